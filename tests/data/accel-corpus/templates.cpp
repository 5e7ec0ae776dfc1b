// Templates, the standard library's containers and algorithms, lambdas, exceptions.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

template <typename T> struct Stats {
    T min, max;
    double mean;
};

template <typename C> auto stats(const C &c) -> Stats<typename C::value_type>
{
    if (c.empty())
        throw std::invalid_argument("no values");
    auto [lo, hi] = std::minmax_element(c.begin(), c.end());
    double sum = std::accumulate(c.begin(), c.end(), 0.0);
    return {*lo, *hi, sum / c.size()};
}

struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
    virtual std::string name() const = 0;
};

struct Square : Shape {
    double s;
    explicit Square(double s) : s(s) {}
    double area() const override { return s * s; }
    std::string name() const override { return "square"; }
};

struct Circle : Shape {
    double r;
    explicit Circle(double r) : r(r) {}
    double area() const override { return 3.14159265358979 * r * r; }
    std::string name() const override { return "circle"; }
};

int main()
{
    std::vector<std::unique_ptr<Shape>> shapes;
    for (int i = 1; i <= 4; i++) {
        shapes.push_back(std::make_unique<Square>(i));
        shapes.push_back(std::make_unique<Circle>(i / 2.0));
    }
    std::map<std::string, std::vector<double>> areas;
    for (const auto &s : shapes)
        areas[s->name()].push_back(s->area());
    std::ostringstream out;
    for (const auto &[name, v] : areas) {
        auto st = stats(v);
        out << name << ": " << st.min << ".." << st.max << " mean " << st.mean << "\n";
    }
    try {
        stats(std::vector<int>{});
    } catch (const std::exception &e) {
        out << "caught: " << e.what() << "\n";
    }
    std::cout << out.str();
    return 0;
}
