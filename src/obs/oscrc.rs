//! The osc configuration file (oscrc), found and read as osc reads it.
//!
//! Where: `--config FILE`, else `$OSC_CONFIG`, else `$XDG_CONFIG_HOME/osc/oscrc`
//! (`~/.config/osc/oscrc`) when it exists, else `~/.oscrc` when it exists (osc's
//! `conf.identify_conf`). Run through sudo, "~" is the invoking user's home
//! (`$SUDO_USER`), since that is whose osc account the command acts for.
//!
//! What: `[general] apiurl`, and one section per API URL with `aliases`, `user`, `pass`,
//! `passx` and `credentials_mgr_class`. Environment overrides as in osc >= 1.0:
//! `OSC_APIURL`; `OSC_USERNAME`, `OSC_PASSWORD` and `OSC_CREDENTIALS_MGR_CLASS` for the
//! default API URL; `OSC_HOST_<ALIAS>_USERNAME` / `_PASSWORD` for a host by alias.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// osc's default API URL.
pub const DEFAULT_APIURL: &str = "https://api.opensuse.org";

/// Where environment variables come from (the process, or a map in tests).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// One `[section]` of an oscrc: its name as written and its options (keys lower-cased,
/// as Python's configparser does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// A parsed oscrc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oscrc {
    pub path: PathBuf,
    pub sections: Vec<Section>,
}

/// What the client needs: where the API is and who we are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The sanitized API URL (scheme, no trailing slash).
    pub apiurl: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The oscrc that was read (named in authentication errors).
    pub oscrc: Option<PathBuf>,
}

/// osc's `sanitize_apiurl`: add `https://` when there is no scheme, strip trailing slashes.
pub fn sanitize_apiurl(url: &str) -> String {
    let url = url.trim();
    let with_scheme = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    with_scheme.trim_end_matches('/').to_string()
}

/// The home directory whose oscrc counts: `$SUDO_USER`'s when running as root through
/// sudo, else `$HOME`.
pub fn home_dir(env: &dyn Env) -> Option<PathBuf> {
    if let Some(user) =
        crate::user::sudo_user_from(env.var("SUDO_USER").as_deref(), crate::user::is_root())
    {
        if let Ok(Some(u)) = nix::unistd::User::from_name(&user) {
            return Some(u.dir);
        }
    }
    env.var("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

fn under_sudo(env: &dyn Env) -> bool {
    crate::user::sudo_user_from(env.var("SUDO_USER").as_deref(), crate::user::is_root()).is_some()
}

/// Which oscrc osc would read. `explicit` is `--config`. Returns None when no file is
/// named and none exists (osc would then offer to create one).
pub fn locate(explicit: Option<&Path>, env: &dyn Env) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.var("OSC_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let home = home_dir(env)?;
    // Under sudo, root's XDG_CONFIG_HOME says nothing about the invoking user's files.
    let xdg = env
        .var("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty() && !under_sudo(env))
        .map(|x| expand_tilde(&x, &home))
        .unwrap_or_else(|| home.join(".config"));
    let xdg_file = xdg.join("osc").join("oscrc");
    if xdg_file.exists() {
        return Some(xdg_file);
    }
    let home_file = home.join(".oscrc");
    if home_file.exists() || home_file.is_symlink() {
        return Some(home_file);
    }
    None
}

fn expand_tilde(p: &str, home: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if p == "~" => home.to_path_buf(),
        None => PathBuf::from(p),
    }
}

/// Read and parse an oscrc file.
pub fn read(path: &Path) -> Result<Oscrc> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the osc configuration {}: create it by running `osc` once, or pass --config FILE",
            path.display()
        )
    })?;
    parse(&text, path)
}

/// Parse oscrc text the way Python's configparser reads it: `[section]` headers,
/// `key = value` or `key: value`, `#`/`;` comment lines, indented continuation lines.
pub fn parse(text: &str, path: &Path) -> Result<Oscrc> {
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        // continuation of the previous value
        if line.starts_with([' ', '\t']) {
            if let (Some(key), Some(section)) = (&last_key, sections.last_mut()) {
                if let Some(v) = section.options.get_mut(key) {
                    v.push('\n');
                    v.push_str(trimmed);
                    continue;
                }
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                anyhow!(
                    "{}:{}: malformed section header '{}': write it as [NAME]",
                    path.display(),
                    n + 1,
                    trimmed
                )
            })?;
            sections.push(Section {
                name: name.trim().to_string(),
                options: BTreeMap::new(),
            });
            last_key = None;
            continue;
        }
        let sep = trimmed.find(['=', ':']).ok_or_else(|| {
            anyhow!(
                "{}:{}: cannot read '{}': options are written as KEY = VALUE",
                path.display(),
                n + 1,
                trimmed
            )
        })?;
        let key = trimmed[..sep].trim().to_lowercase();
        let value = trimmed[sep + 1..].trim().to_string();
        let Some(section) = sections.last_mut() else {
            bail!(
                "{}:{}: option '{}' comes before any [section]: put it under [general]",
                path.display(),
                n + 1,
                key
            );
        };
        section.options.insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(Oscrc {
        path: path.to_path_buf(),
        sections,
    })
}

impl Oscrc {
    pub fn general(&self) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == "general")
    }

    /// The host sections (every section but `[general]`).
    pub fn hosts(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.name != "general")
    }

    /// The host section for a sanitized API URL.
    pub fn host(&self, apiurl: &str) -> Option<&Section> {
        self.hosts().find(|s| sanitize_apiurl(&s.name) == apiurl)
    }

    /// Map alias -> API URL (every API URL is its own alias too), as osc's `apiurl_aliases`.
    pub fn aliases(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for s in self.hosts() {
            let apiurl = sanitize_apiurl(&s.name);
            map.insert(apiurl.clone(), apiurl.clone());
            for alias in s.get("aliases").map(split_list).unwrap_or_default() {
                map.insert(alias, apiurl.clone());
            }
        }
        map
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

/// osc's `resolve_apiurl_alias`: an alias, an API URL, or a host name.
pub fn resolve_alias(oscrc: Option<&Oscrc>, value: &str) -> String {
    let aliases = oscrc.map(Oscrc::aliases).unwrap_or_default();
    if let Some(url) = aliases.get(value.trim()) {
        return url.clone();
    }
    let sanitized = sanitize_apiurl(value);
    aliases.get(&sanitized).cloned().unwrap_or(sanitized)
}

/// Decode an obfuscated `passx` value: base64 of the bzip2-compressed password
/// (osc's `ObfuscatedConfigFileCredentialsManager.decode_password`).
pub fn decode_passx(value: &str) -> Result<String> {
    use base64::Engine;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| anyhow!("passx is not valid base64 ({e})"))?;
    // a password is short; a few bytes of bzip2 can expand to gigabytes
    const MAX_PASSWORD: u64 = 64 << 10;
    let mut out = String::new();
    bzip2::read::BzDecoder::new(compressed.as_slice())
        .take(MAX_PASSWORD + 1)
        .read_to_string(&mut out)
        .map_err(|e| anyhow!("passx is not a bzip2-compressed password ({e})"))?;
    if out.len() as u64 > MAX_PASSWORD {
        bail!("passx decodes to more than {MAX_PASSWORD} bytes, which is no password: write it again with osc");
    }
    Ok(out)
}

/// Encode a password as `passx` (for tests and for users who want to write one).
pub fn encode_passx(password: &str) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(password.as_bytes())
        .expect("compress into memory");
    let compressed = enc.finish().expect("compress into memory");
    base64::engine::general_purpose::STANDARD.encode(compressed)
}

/// The credentials managers osc ships, by what archbuild can do with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsManager {
    /// `pass` in the oscrc.
    Plaintext,
    /// `passx` (or `pass`) in the oscrc, obfuscated.
    Obfuscated,
    /// osc asks for the password on every run.
    Transient,
    /// A keyring (Secret Service, KWallet, ...): archbuild cannot read it.
    Keyring(String),
}

impl CredentialsManager {
    /// From a `credentials_mgr_class` value (`module.Class[:options]`).
    pub fn from_class(value: &str) -> CredentialsManager {
        let class = value.split(':').next().unwrap_or("").trim();
        match class.rsplit('.').next().unwrap_or("") {
            "PlaintextConfigFileCredentialsManager" => CredentialsManager::Plaintext,
            "ObfuscatedConfigFileCredentialsManager" => CredentialsManager::Obfuscated,
            "TransientCredentialsManager" => CredentialsManager::Transient,
            _ => CredentialsManager::Keyring(value.trim().to_string()),
        }
    }
}

fn env_alias_var(env: &dyn Env, section: &Section, field: &str) -> Option<String> {
    let aliases = section.get("aliases").map(split_list).unwrap_or_default();
    aliases.iter().find_map(|a| {
        env.var(&format!(
            "OSC_HOST_{}_{}",
            a.replace('-', "_").to_uppercase(),
            field
        ))
    })
}

/// Work out the API URL and credentials. `apiurl_arg` is `-A/--apiurl` (URL or alias),
/// `store_apiurl` the checkout's `.osc/_apiurl`.
pub fn resolve(
    oscrc: Option<&Oscrc>,
    apiurl_arg: Option<&str>,
    store_apiurl: Option<&str>,
    env: &dyn Env,
) -> Result<ApiConfig> {
    let general_apiurl = oscrc
        .and_then(|o| o.general())
        .and_then(|g| g.get("apiurl"))
        .map(str::to_string);
    let chosen = apiurl_arg
        .map(str::to_string)
        .or_else(|| store_apiurl.map(str::to_string))
        .or_else(|| env.var("OSC_APIURL").filter(|v| !v.is_empty()))
        .or(general_apiurl)
        .unwrap_or_else(|| DEFAULT_APIURL.to_string());
    let apiurl = resolve_alias(oscrc, &chosen);
    let oscrc_path = oscrc.map(|o| o.path.clone());
    let section = oscrc.and_then(|o| o.host(&apiurl));
    let where_ = match &oscrc_path {
        Some(p) => format!(
            "[{}] in {}",
            section.map(|s| s.name.as_str()).unwrap_or(&apiurl),
            p.display()
        ),
        None => "the oscrc".to_string(),
    };

    // As osc: OSC_USERNAME/OSC_PASSWORD/OSC_CREDENTIALS_MGR_CLASS apply to the API URL
    // in use (however it was chosen) and win over OSC_HOST_<ALIAS>_*, which win over the
    // section's own values.
    let user = env
        .var("OSC_USERNAME")
        .filter(|v| !v.is_empty())
        .or_else(|| section.and_then(|s| env_alias_var(env, s, "USERNAME")))
        .or_else(|| section.and_then(|s| s.get("user")).map(str::to_string));

    // password: env first (it makes any credentials manager irrelevant)
    let env_password = env
        .var("OSC_PASSWORD")
        .filter(|v| !v.is_empty())
        .or_else(|| section.and_then(|s| env_alias_var(env, s, "PASSWORD")));
    let password = match env_password {
        Some(p) => Some(p),
        None => {
            let class = env
                .var("OSC_CREDENTIALS_MGR_CLASS")
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    section
                        .and_then(|s| s.get("credentials_mgr_class"))
                        .map(str::to_string)
                });
            let manager = match class {
                Some(c) if !c.is_empty() => CredentialsManager::from_class(&c),
                _ if section.and_then(|s| s.get("passx")).is_some() => {
                    CredentialsManager::Obfuscated
                }
                _ => CredentialsManager::Plaintext,
            };
            let pass = section
                .and_then(|s| s.get("pass"))
                .filter(|p| !p.is_empty());
            let passx = section
                .and_then(|s| s.get("passx"))
                .filter(|p| !p.is_empty());
            match manager {
                CredentialsManager::Plaintext => pass.map(str::to_string),
                CredentialsManager::Obfuscated => match passx.or(pass) {
                    Some(v) => Some(decode_passx(v).with_context(|| {
                        format!("cannot decode the obfuscated password of {where_}: write it again with osc, or set OSC_PASSWORD")
                    })?),
                    None => None,
                },
                CredentialsManager::Transient => bail!(
                    "{where_} uses osc's TransientCredentialsManager (asks for the password on every run): set OSC_USERNAME and OSC_PASSWORD in the environment for archbuild"
                ),
                CredentialsManager::Keyring(class) => bail!(
                    "{where_} keeps the password in a keyring ({class}), which archbuild cannot read: set OSC_USERNAME and OSC_PASSWORD in the environment (e.g. OSC_PASSWORD=$(secret-tool lookup ...)), or switch to credentials_mgr_class=osc.credentials.ObfuscatedConfigFileCredentialsManager"
                ),
            }
        }
    };
    if user.is_some() && password.is_none() && section.and_then(|s| s.get("sshkey")).is_some() {
        bail!(
            "{where_} authenticates with an ssh key (sshkey), which archbuild does not support: set OSC_PASSWORD in the environment, or add pass/passx to that section"
        );
    }
    Ok(ApiConfig {
        apiurl,
        user,
        password,
        oscrc: oscrc_path,
    })
}

/// Locate, read and resolve in one step, for the commands.
pub fn load(
    explicit: Option<&Path>,
    apiurl_arg: Option<&str>,
    store_apiurl: Option<&str>,
) -> Result<ApiConfig> {
    let env = ProcessEnv;
    let oscrc = match locate(explicit, &env) {
        Some(path) => Some(read(&path)?),
        None => None,
    };
    resolve(oscrc.as_ref(), apiurl_arg, store_apiurl, &env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rc(text: &str) -> Oscrc {
        parse(text, Path::new("/home/u/.config/osc/oscrc")).unwrap()
    }

    const RC: &str = "[general]\napiurl = https://api.opensuse.org\n\n[https://api.opensuse.org]\nuser = alice\npass = secret\naliases = obs, ibs-like\n\n[https://obs.example.test/]\nuser=bob\npassx = PASSX\ncredentials_mgr_class=osc.credentials.ObfuscatedConfigFileCredentialsManager\naliases=ex\n";

    #[test]
    fn plaintext_password_for_general_apiurl() {
        let c = resolve(Some(&rc(RC)), None, None, &env(&[])).unwrap();
        assert_eq!(c.apiurl, "https://api.opensuse.org");
        assert_eq!(c.user.as_deref(), Some("alice"));
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert_eq!(
            c.oscrc.as_deref(),
            Some(Path::new("/home/u/.config/osc/oscrc"))
        );
    }

    #[test]
    fn obfuscated_password_by_alias() {
        let text = RC.replace("PASSX", &encode_passx("hunter2"));
        let c = resolve(Some(&rc(&text)), Some("ex"), None, &env(&[])).unwrap();
        assert_eq!(c.apiurl, "https://obs.example.test");
        assert_eq!(c.user.as_deref(), Some("bob"));
        assert_eq!(c.password.as_deref(), Some("hunter2"));
    }

    #[test]
    fn passx_as_osc_writes_it() {
        // base64(bz2("opensuse")) as produced by osc's ObfuscatedConfigFileCredentialsManager
        let osc_written = "QlpoOTFBWSZTWeTSblkAAAGBgAIBygAgADDACGNEHxaYXckU4UJDk0m5ZA==";
        assert_eq!(decode_passx(osc_written).unwrap(), "opensuse");
        assert_eq!(decode_passx(&encode_passx("x y")).unwrap(), "x y");
        // a bzip2 bomb is refused after 64 KiB, not decompressed whole
        let bomb = encode_passx(&"x".repeat(10 << 20));
        assert!(bomb.len() < 4096);
        let e = decode_passx(&bomb).unwrap_err().to_string();
        assert!(e.contains("no password"), "{e}");
    }

    #[test]
    fn passx_without_class_is_obfuscated() {
        let text = format!(
            "[general]\napiurl=https://h.test\n[https://h.test]\nuser=u\npassx={}\n",
            encode_passx("pw")
        );
        let c = resolve(Some(&rc(&text)), None, None, &env(&[])).unwrap();
        assert_eq!(c.password.as_deref(), Some("pw"));
    }

    #[test]
    fn plaintext_class_reads_pass() {
        let text = "[general]\napiurl=h.test\n[h.test]\nuser=u\npass=pw\ncredentials_mgr_class=osc.credentials.PlaintextConfigFileCredentialsManager\n";
        let c = resolve(Some(&rc(text)), None, None, &env(&[])).unwrap();
        assert_eq!(c.apiurl, "https://h.test");
        assert_eq!(c.password.as_deref(), Some("pw"));
    }

    #[test]
    fn keyring_manager_is_a_clear_error_naming_the_env_vars() {
        let text = "[general]\napiurl=https://h.test\n[https://h.test]\nuser=u\ncredentials_mgr_class=osc.credentials.KeyringCredentialsManager:keyring.backends.SecretService.Keyring\n";
        let err = resolve(Some(&rc(text)), None, None, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("OSC_USERNAME") && err.contains("OSC_PASSWORD"),
            "{err}"
        );
        assert!(
            err.contains("keyring.backends.SecretService.Keyring"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        // ... and the environment gets around it
        let c = resolve(
            Some(&rc(text)),
            None,
            None,
            &env(&[("OSC_PASSWORD", "fromenv")]),
        )
        .unwrap();
        assert_eq!(c.password.as_deref(), Some("fromenv"));
    }

    #[test]
    fn transient_manager_asks_for_env() {
        let text = "[general]\napiurl=https://h.test\n[https://h.test]\nuser=u\ncredentials_mgr_class=osc.credentials.TransientCredentialsManager\n";
        let err = resolve(Some(&rc(text)), None, None, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("OSC_PASSWORD"), "{err}");
    }

    #[test]
    fn env_overrides() {
        let e = env(&[
            ("OSC_APIURL", "obs"),
            ("OSC_USERNAME", "carol"),
            ("OSC_PASSWORD", "pw2"),
        ]);
        let c = resolve(Some(&rc(RC)), None, None, &e).unwrap();
        assert_eq!(c.apiurl, "https://api.opensuse.org");
        assert_eq!(c.user.as_deref(), Some("carol"));
        assert_eq!(c.password.as_deref(), Some("pw2"));
        // per-host override by alias
        let e = env(&[
            ("OSC_HOST_IBS_LIKE_USERNAME", "dave"),
            ("OSC_HOST_IBS_LIKE_PASSWORD", "pw3"),
        ]);
        let c = resolve(Some(&rc(RC)), Some("ibs-like"), None, &e).unwrap();
        assert_eq!(c.user.as_deref(), Some("dave"));
        assert_eq!(c.password.as_deref(), Some("pw3"));
        // OSC_USERNAME/OSC_PASSWORD are for the API URL in use, also one chosen with -A
        let mut e2 = e.clone();
        e2.insert("OSC_USERNAME".into(), "erin".into());
        e2.insert("OSC_PASSWORD".into(), "pw4".into());
        let c = resolve(Some(&rc(RC)), Some("obs"), None, &e2).unwrap();
        assert_eq!(c.user.as_deref(), Some("erin"));
        assert_eq!(c.password.as_deref(), Some("pw4"));
        // OSC_CREDENTIALS_MGR_CLASS switches the manager
        let mut e3 = BTreeMap::new();
        e3.insert(
            "OSC_CREDENTIALS_MGR_CLASS".to_string(),
            "osc.credentials.TransientCredentialsManager".to_string(),
        );
        assert!(resolve(Some(&rc(RC)), None, None, &e3).is_err());
    }

    #[test]
    fn apiurl_precedence_and_aliases() {
        let o = rc(&RC.replace("PASSX", &encode_passx("p")));
        assert_eq!(
            resolve(Some(&o), Some("https://obs.example.test/"), None, &env(&[]))
                .unwrap()
                .apiurl,
            "https://obs.example.test"
        );
        assert_eq!(
            resolve(Some(&o), None, Some("ex"), &env(&[]))
                .unwrap()
                .apiurl,
            "https://obs.example.test"
        );
        assert_eq!(
            resolve(Some(&o), Some("other.test"), None, &env(&[]))
                .unwrap()
                .apiurl,
            "https://other.test"
        );
        assert_eq!(
            resolve(None, None, None, &env(&[])).unwrap().apiurl,
            DEFAULT_APIURL
        );
        assert_eq!(
            resolve(None, Some("http://127.0.0.1:81/"), None, &env(&[]))
                .unwrap()
                .apiurl,
            "http://127.0.0.1:81"
        );
    }

    #[test]
    fn configparser_syntax() {
        let o = rc("# c\n[general]\n; c\nApiUrl: https://a.test\n[https://a.test]\nuser = u\npass = p\n  continued\n");
        assert_eq!(o.general().unwrap().get("apiurl"), Some("https://a.test"));
        assert_eq!(
            o.host("https://a.test").unwrap().get("pass"),
            Some("p\ncontinued")
        );
        assert!(parse("user = x\n", Path::new("f"))
            .unwrap_err()
            .to_string()
            .contains("[general]"));
    }

    #[test]
    fn under_sudo_the_invoking_users_home_counts() {
        let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
            return;
        };
        let e = env(&[("HOME", "/root"), ("SUDO_USER", "nobody")]);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(home_dir(&e), Some(nobody.dir));
        } else {
            assert_eq!(home_dir(&e), Some(PathBuf::from("/root")));
        }
        // sudo to root from root: root's own HOME
        let e = env(&[("HOME", "/root"), ("SUDO_USER", "root")]);
        assert_eq!(home_dir(&e), Some(PathBuf::from("/root")));
    }

    #[test]
    fn locate_as_osc_does() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_string();
        let e = env(&[("HOME", &home)]);
        assert_eq!(locate(None, &e), None);
        std::fs::write(dir.path().join(".oscrc"), "[general]\n").unwrap();
        assert_eq!(locate(None, &e), Some(dir.path().join(".oscrc")));
        std::fs::create_dir_all(dir.path().join(".config/osc")).unwrap();
        std::fs::write(dir.path().join(".config/osc/oscrc"), "[general]\n").unwrap();
        assert_eq!(locate(None, &e), Some(dir.path().join(".config/osc/oscrc")));
        let e2 = env(&[("HOME", &home), ("OSC_CONFIG", "/x/oscrc")]);
        assert_eq!(locate(None, &e2), Some(PathBuf::from("/x/oscrc")));
        assert_eq!(
            locate(Some(Path::new("/y")), &e2),
            Some(PathBuf::from("/y"))
        );
    }
}
