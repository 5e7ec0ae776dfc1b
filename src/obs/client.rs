//! The OBS API client: blocking reqwest with rustls (no system OpenSSL), HTTP Basic auth,
//! `Accept: application/xml`, timeouts, and retries with exponential backoff on
//! connection errors, timeouts and 5xx answers. Error answers carry an OBS `<status>`
//! document, turned here into one line that says what to do.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::StatusCode;

use super::buildinfo::BuildInfo;
use super::configuration::Configuration;
use super::meta::ProjectMeta;
use super::oscrc::ApiConfig;
use super::pathchain::MetaSource;
use super::status::Status;

/// What a request is about, for 404 messages ("project 'home:x'").
#[derive(Debug, Clone)]
pub enum Subject {
    Project(String),
    Repository(String, String),
    Instance,
    Other(String),
}

impl Subject {
    fn describe(&self) -> String {
        match self {
            Subject::Project(p) => format!("project '{p}'"),
            Subject::Repository(p, r) => format!("repository '{r}' of project '{p}'"),
            Subject::Instance => "the instance configuration".to_string(),
            Subject::Other(s) => s.clone(),
        }
    }

    fn hint(&self) -> String {
        match self {
            Subject::Project(_) => {
                "check the project name (`osc search --project NAME`) and the API URL (-A)"
                    .to_string()
            }
            Subject::Repository(p, _) => format!("check the name with `archbuild obs repos {p}`"),
            _ => "check the API URL (-A)".to_string(),
        }
    }
}

/// Connection settings; `from_env` lets tests and slow links change them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First backoff; doubled after every failed attempt.
    pub backoff: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(120),
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

impl Settings {
    /// Defaults, changed by `ARCHBUILD_OBS_TIMEOUT` (seconds), `ARCHBUILD_OBS_ATTEMPTS`
    /// and `ARCHBUILD_OBS_BACKOFF_MS`.
    pub fn from_env() -> Settings {
        let mut s = Settings::default();
        let num = crate::settings::number;
        if let Some(t) = num("ARCHBUILD_OBS_TIMEOUT").filter(|t| *t > 0.0) {
            s.timeout = Duration::from_secs_f64(t);
            s.connect_timeout = s.connect_timeout.min(s.timeout);
        }
        if let Some(a) = num("ARCHBUILD_OBS_ATTEMPTS").filter(|a| *a >= 1.0) {
            s.attempts = a as u32;
        }
        if let Some(b) = num("ARCHBUILD_OBS_BACKOFF_MS").filter(|b| *b >= 0.0) {
            s.backoff = Duration::from_millis(b as u64);
        }
        s
    }
}

pub struct Client {
    apiurl: String,
    user: Option<String>,
    password: Option<String>,
    oscrc: Option<PathBuf>,
    settings: Settings,
    http: reqwest::blocking::Client,
}

/// Percent-encode one path segment (keeps what OBS names use: letters, digits, `-._~:+@`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:+@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

enum Attempt {
    Done(String),
    Retry(anyhow::Error),
    Fail(anyhow::Error),
}

impl Client {
    pub fn new(config: &ApiConfig) -> Result<Client> {
        Client::with_settings(config, Settings::from_env())
    }

    pub fn with_settings(config: &ApiConfig, settings: Settings) -> Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .user_agent(concat!("archbuild/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                anyhow!("cannot set up the HTTP client ({e}): this is a bug, please report it")
            })?;
        Ok(Client {
            apiurl: config.apiurl.clone(),
            user: config.user.clone(),
            password: config.password.clone(),
            oscrc: config.oscrc.clone(),
            settings,
            http,
        })
    }

    pub fn apiurl(&self) -> &str {
        &self.apiurl
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.apiurl, path)
    }

    fn auth(&self, rb: RequestBuilder) -> RequestBuilder {
        let rb = rb.header(reqwest::header::ACCEPT, "application/xml");
        match &self.user {
            Some(u) => rb.basic_auth(u, self.password.as_deref().or(Some(""))),
            None => rb,
        }
    }

    /// GET `path` (already encoded, starting with `/`), with query pairs.
    pub fn get(&self, path: &str, query: &[(&str, &str)], subject: &Subject) -> Result<String> {
        self.request("GET", path, query, None, subject)
    }

    /// POST `body` to `path`.
    pub fn post(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        subject: &Subject,
    ) -> Result<String> {
        self.request("POST", path, query, Some(body), subject)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        subject: &Subject,
    ) -> Result<String> {
        let url = self.url(path);
        let mut delay = self.settings.backoff;
        let mut last = None;
        for attempt in 1..=self.settings.attempts {
            let rb = match method {
                "POST" => self.http.post(&url).body(body.clone().unwrap_or_default()),
                _ => self.http.get(&url),
            };
            let rb = self.auth(rb).query(query);
            match self.once(rb, method, &url, subject) {
                Attempt::Done(text) => return Ok(text),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(e) => {
                    last = Some(e);
                    if attempt < self.settings.attempts {
                        std::thread::sleep(delay);
                        delay *= 2;
                    }
                }
            }
        }
        let e = last.unwrap_or_else(|| anyhow!("no attempt made"));
        Err(anyhow!(
            "{e} (gave up after {} attempts): check that {} is reachable, or try again later",
            self.settings.attempts,
            self.apiurl
        ))
    }

    fn once(&self, rb: RequestBuilder, method: &str, url: &str, subject: &Subject) -> Attempt {
        let resp: Response = match rb.send() {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(anyhow!(
                    "{method} {url} timed out after {:?}",
                    self.settings.timeout
                ))
            }
            Err(e) if e.is_connect() => {
                return Attempt::Retry(anyhow!(
                    "cannot connect to {} ({})",
                    self.apiurl,
                    root_cause(&e)
                ))
            }
            Err(e) => return Attempt::Retry(anyhow!("{method} {url} failed ({})", root_cause(&e))),
        };
        let status = resp.status();
        let www_auth = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = match resp.text() {
            Ok(t) => t,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(anyhow!("{method} {url} timed out while reading the answer"))
            }
            Err(e) => {
                return Attempt::Retry(anyhow!(
                    "{method} {url}: the answer was cut off ({})",
                    root_cause(&e)
                ))
            }
        };
        if status.is_success() {
            return Attempt::Done(text);
        }
        let obs = Status::from_body(&text);
        let what = obs
            .as_ref()
            .map(Status::one_line)
            .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        if status.is_server_error() {
            return Attempt::Retry(anyhow!(
                "{method} {url}: server error {} ({what})",
                status.as_u16()
            ));
        }
        Attempt::Fail(match status {
            StatusCode::UNAUTHORIZED => self.unauthorized(&what, www_auth.as_deref()),
            StatusCode::FORBIDDEN => anyhow!(
                "{} refused access to {} ({what}): ask the project's maintainers for access, or check the user in {}",
                self.apiurl,
                subject.describe(),
                self.oscrc_name()
            ),
            StatusCode::NOT_FOUND => anyhow!(
                "{} not found on {} ({what}): {}",
                subject.describe(),
                self.apiurl,
                subject.hint()
            ),
            _ => anyhow!("{method} {url} was refused: {} ({what}): check the request with `osc api`", status.as_u16()),
        })
    }

    fn oscrc_name(&self) -> String {
        match &self.oscrc {
            Some(p) => p.display().to_string(),
            None => "the oscrc (none found: create ~/.config/osc/oscrc by running `osc` once)"
                .to_string(),
        }
    }

    fn unauthorized(&self, what: &str, www_auth: Option<&str>) -> anyhow::Error {
        if www_auth.is_some_and(|w| w.trim_start().to_ascii_lowercase().starts_with("signature"))
            && self.user.is_none()
        {
            return anyhow!(
                "{} wants ssh-key signature authentication ({what}), which archbuild does not do: set OSC_USERNAME and OSC_PASSWORD, or user/pass in {}",
                self.apiurl,
                self.oscrc_name()
            );
        }
        match &self.user {
            Some(u) => anyhow!(
                "{} rejected the password of user '{u}' ({what}): fix user/pass in the [{}] section of {}, or set OSC_USERNAME/OSC_PASSWORD",
                self.apiurl,
                self.apiurl,
                self.oscrc_name()
            ),
            None => anyhow!(
                "{} wants a login ({what}) and no user is configured for it: add a [{}] section with user and pass to {}, or set OSC_USERNAME/OSC_PASSWORD",
                self.apiurl,
                self.apiurl,
                self.oscrc_name()
            ),
        }
    }

    // ---- the documents ----

    /// `GET /source/<project>/_meta`
    pub fn project_meta(&self, project: &str) -> Result<ProjectMeta> {
        let text = self.get(
            &format!("/source/{}/_meta", encode_segment(project)),
            &[],
            &Subject::Project(project.into()),
        )?;
        ProjectMeta::parse(&text, project)
    }

    /// `GET /source/<project>/_config` (the raw prjconf)
    pub fn project_config(&self, project: &str) -> Result<String> {
        self.get(
            &format!("/source/{}/_config", encode_segment(project)),
            &[],
            &Subject::Project(project.into()),
        )
    }

    /// `GET /build/<project>/<repository>/_buildconfig` (the prjconfs of the whole path, combined)
    pub fn buildconfig(&self, project: &str, repository: &str) -> Result<String> {
        self.get(
            &format!(
                "/build/{}/{}/_buildconfig",
                encode_segment(project),
                encode_segment(repository)
            ),
            &[],
            &Subject::Repository(project.into(), repository.into()),
        )
    }

    /// `GET /build/<project>/_result?package=PKG&multibuild=1&locallink=1`: OBS's build
    /// results of the package and its flavors in every repository and arch (what
    /// `osc results` shows). An OBS too old for `multibuild` is asked again without it,
    /// as osc does.
    pub fn results(
        &self,
        project: &str,
        package: &str,
    ) -> Result<Vec<crate::batch::obs_result::ServerResult>> {
        let path = format!("/build/{}/_result", encode_segment(project));
        let subject = Subject::Other(format!(
            "the build results of package '{package}' in project '{project}'"
        ));
        let text = match self.get(
            &path,
            &[
                ("package", package),
                ("multibuild", "1"),
                ("locallink", "1"),
            ],
            &subject,
        ) {
            Err(e) if e.to_string().contains(": 400 (") && e.to_string().contains("multibuild") => {
                self.get(&path, &[("package", package)], &subject)?
            }
            other => other?,
        };
        crate::batch::obs_result::parse(&text, &format!("{project}/{package}"))
    }

    /// `GET /configuration`
    pub fn configuration(&self) -> Result<Configuration> {
        let text = self.get("/configuration", &[], &Subject::Instance)?;
        Configuration::parse(&text)
    }

    /// `POST /build/<project>/<repository>/<arch>/<package>/_buildinfo` with the recipe
    /// (empty: the backend uses the package's own sources).
    pub fn buildinfo(
        &self,
        project: &str,
        repository: &str,
        arch: &str,
        package: &str,
        recipe: Option<Vec<u8>>,
    ) -> Result<BuildInfo> {
        let path = format!(
            "/build/{}/{}/{}/{}/_buildinfo",
            encode_segment(project),
            encode_segment(repository),
            encode_segment(arch),
            encode_segment(package)
        );
        let subject = Subject::Other(format!(
            "package '{package}' in {project}/{repository}/{arch}"
        ));
        let text = match recipe {
            Some(body) => self.post(&path, &[], body, &subject)?,
            None => self.get(&path, &[], &subject)?,
        };
        let info = BuildInfo::parse(&text, &format!("{project}/{repository}/{arch}/{package}"))?;
        if let Some(err) = &info.error {
            bail!("OBS cannot resolve the build of {package} in {project}/{repository}/{arch}: {err}: fix the dependencies or the prjconf");
        }
        Ok(info)
    }

    /// `GET /build/<project>/<repository>/<arch>/_repository?binary=..&view=cpio`: the
    /// named binaries as one cpio archive.
    pub fn binaries_cpio(
        &self,
        project: &str,
        repository: &str,
        arch: &str,
        binaries: &[&str],
    ) -> Result<Vec<u8>> {
        let path = format!(
            "/build/{}/{}/{}/_repository",
            encode_segment(project),
            encode_segment(repository),
            encode_segment(arch)
        );
        let mut query: Vec<(&str, &str)> = binaries.iter().map(|b| ("binary", *b)).collect();
        query.push(("view", "cpio"));
        let url = self.url(&path);
        let mut delay = self.settings.backoff;
        let mut last = None;
        for attempt in 1..=self.settings.attempts {
            let rb = self.auth(self.http.get(&url)).query(&query);
            match rb
                .send()
                .and_then(|r| r.error_for_status())
                .and_then(|r| r.bytes())
            {
                Ok(b) => return Ok(b.to_vec()),
                Err(e) if e.status().is_some_and(|s| s.is_client_error()) => {
                    bail!("GET {url} was refused ({}): check the binary names with `osc ls -b {project} -r {repository} -a {arch}`", e.status().map(|s| s.as_u16()).unwrap_or(0))
                }
                Err(e) => last = Some(root_cause(&e)),
            }
            if attempt < self.settings.attempts {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
        bail!(
            "GET {url} failed ({}): check that {} is reachable, or try again later",
            last.unwrap_or_default(),
            self.apiurl
        )
    }
}

impl MetaSource for Client {
    fn project_meta(&self, project: &str) -> Result<ProjectMeta> {
        Client::project_meta(self, project)
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(
            encode_segment("home:alice:branches:openSUSE:Factory"),
            "home:alice:branches:openSUSE:Factory"
        );
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
