//! The stand-in OBS API server (tests/support/obs_server.py) on loopback, started per
//! test on a free port; faults are armed per request and its request log can be read.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(extra: &[&str]) -> Option<Server> {
        let mut args = vec!["--lifetime", "300"];
        args.extend_from_slice(extra);
        Server::start_script("obs_server.py", &args)
    }

    /// Start `tests/support/SCRIPT ARGS...`, a stand-in server that prints `PORT <n>` once
    /// it accepts connections (obs_server.py, build_server.py).
    pub fn start_script<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> Option<Server> {
        if !super::prerequisite(
            super::tool("python3").is_some(),
            "python3 runs the stand-in OBS server",
        ) {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support")
            .join(script);
        let mut child = Command::new("python3")
            .arg(&script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", script.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("stand-in server printed {line:?}, not PORT <n>")
            });
        Some(Server { child, port })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Arm a fault for the next `count` requests whose path contains `matching`.
    pub fn fault(&self, kind: &str, count: u32, matching: &str, seconds: f64) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_fault", self.url()))
            .query(&[
                ("kind", kind),
                ("count", &count.to_string()),
                ("match", matching),
                ("seconds", &seconds.to_string()),
            ])
            .send()
            .expect("arm a fault");
        assert!(r.status().is_success());
    }

    /// The requests served so far: `METHOD PATH STATUS accept=ACCEPT`.
    pub fn log(&self) -> Vec<String> {
        let log = reqwest::blocking::get(format!("{}/_log", self.url()))
            .unwrap()
            .text()
            .unwrap();
        log.lines().map(str::to_string).collect()
    }

    /// Requests served so far whose line contains `what`.
    pub fn served(&self, what: &str) -> usize {
        self.log().iter().filter(|l| l.contains(what)).count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
