//! The deployment artefacts against the binary: the Kubernetes manifests of `deploy/k8s` (base and
//! every overlay, as written: patches included) and the `Dockerfile`. Probes and ports must be what
//! the gateway serves, every config key they set must exist in `Config` (parsed strictly), secrets
//! stay out of the ConfigMap, the drain fits in the grace period, and `serve` starts from the base's
//! ConfigMap, env and Secret mounts (against the emulator). Rendering and schema
//! validation run in CI (`scripts/deploy/validate-manifests.sh`); no container engine runs there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ats_gateway::cli::{Cli, Command};
use ats_gateway::config::Config;
use clap::Parser;
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::common::spawn_app;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document under `deploy/k8s`, with the file it came from.
fn manifests() -> Vec<(PathBuf, Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("deploy/k8s"), &mut files);
    let mut docs = Vec::new();
    for f in files {
        let text = read(&f);
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if !v.is_null() {
                docs.push((f.clone(), v));
            }
        }
    }
    assert!(docs.len() >= 10, "deploy/k8s holds the manifests");
    docs
}

fn kind(v: &Value) -> &str {
    v["kind"].as_str().unwrap_or_default()
}

fn in_dir(docs: &[(PathBuf, Value)], dir: &str) -> Vec<Value> {
    let dir = root().join("deploy/k8s").join(dir);
    docs.iter()
        .filter(|(f, _)| f.parent() == Some(dir.as_path()))
        .map(|(_, v)| v.clone())
        .collect()
}

fn base_deployment(docs: &[(PathBuf, Value)]) -> Value {
    in_dir(docs, "base")
        .into_iter()
        .find(|v| kind(v) == "Deployment")
        .expect("base Deployment")
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

/// The config files the kustomizations put into the ConfigMap, parsed strictly (every section of
/// `Config` denies unknown fields), by directory.
fn configmap_configs() -> Vec<(String, Config)> {
    let mut out = Vec::new();
    for dir in ["base", "overlays/sandbox", "overlays/production"] {
        let dir_path = root().join("deploy/k8s").join(dir);
        let k: Value =
            serde_yaml_ng::from_str(&read(&dir_path.join("kustomization.yaml"))).expect("yaml");
        for generator in k["configMapGenerator"].as_sequence().into_iter().flatten() {
            for file in generator["files"].as_sequence().expect("files") {
                let file = file.as_str().expect("file name");
                let text = read(&dir_path.join(file));
                let cfg: Config = toml::from_str(&text)
                    .unwrap_or_else(|e| panic!("{dir}/{file}: not a valid gateway config: {e}"));
                out.push((format!("{dir}/{file}"), cfg));
            }
        }
    }
    assert!(out.len() >= 2, "base and sandbox configs");
    out
}

fn base_config() -> Config {
    configmap_configs()
        .into_iter()
        .find(|(name, _)| name.starts_with("base/"))
        .expect("base config")
        .1
}

/// `ATS_GATEWAY__SECTION__KEY=value` as figment reads it, checked strictly against `Config`.
fn check_env_key(name: &str, value: &str) -> Result<(), String> {
    let path: Vec<String> = name
        .trim_start_matches("ATS_GATEWAY__")
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    // Figment reads numbers and booleans from env strings.
    let leaf = if let Ok(n) = value.parse::<i64>() {
        toml::Value::Integer(n)
    } else if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_string())
    };
    let mut doc = leaf;
    for seg in path.iter().rev() {
        let mut t = toml::Table::new();
        t.insert(seg.clone(), doc);
        doc = toml::Value::Table(t);
    }
    doc.try_into::<Config>()
        .map(|_| ())
        .map_err(|e| format!("{name}: {e}"))
}

/// Environment names the binary reads besides `ATS_GATEWAY__…` (clap's `env = …`).
const CLI_ENV: &[&str] = &["ATS_GATEWAY_CONFIG", "ATS_GATEWAY_LOG_FORMAT"];

#[test]
fn configmap_toml_is_a_strict_config_without_secrets() {
    for (name, cfg) in configmap_configs() {
        assert!(
            cfg.dataverse.client_secret.is_empty(),
            "{name}: client_secret belongs in a Secret"
        );
        assert!(
            cfg.gateway.cursor_key.is_empty(),
            "{name}: cursor_key belongs in a Secret"
        );
        assert!(
            cfg.webhooks.secret_key.is_empty(),
            "{name}: secret_key belongs in a Secret"
        );
        assert!(
            cfg.auth.partners.is_empty(),
            "{name}: partners (their secret hashes) belong in the partners file from a Secret"
        );
    }
    // A key the gateway does not know is refused, so the check above means something.
    let unknown = toml::from_str::<Config>("[gateway]\nops_port = 9090\n");
    assert!(unknown.is_err(), "unknown keys fail the strict parse");
}

#[test]
fn every_env_key_the_manifests_and_image_set_exists_in_the_config() {
    let mut seen = BTreeSet::new();
    for (file, doc) in manifests() {
        let containers = doc["spec"]["template"]["spec"]["containers"].as_sequence();
        for c in containers.into_iter().flatten() {
            for e in c["env"].as_sequence().into_iter().flatten() {
                let name = e["name"].as_str().expect("env name");
                // A deletion in a patch sets nothing.
                if e.get("$patch").is_some() {
                    continue;
                }
                if name.starts_with("ATS_GATEWAY__") {
                    // Secret values are unknown here; the keys they feed are strings.
                    let value = e["value"].as_str().unwrap_or("value-from-a-secret");
                    check_env_key(name, value)
                        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                    seen.insert(name.to_string());
                } else {
                    assert!(
                        !name.starts_with("ATS_GATEWAY") || CLI_ENV.contains(&name),
                        "{}: {name} is read by nothing",
                        file.display()
                    );
                }
            }
        }
    }
    assert!(
        seen.contains("ATS_GATEWAY__GATEWAY__CURSOR_KEY"),
        "{seen:?}"
    );
    assert!(
        seen.contains("ATS_GATEWAY__WEBHOOKS__SECRET_KEY"),
        "{seen:?}"
    );
    for (name, value) in dockerfile_env() {
        if name.starts_with("ATS_GATEWAY__") {
            check_env_key(&name, &value).unwrap_or_else(|e| panic!("Dockerfile: {e}"));
        }
    }
    // The check refuses a key the config lacks.
    assert!(check_env_key("ATS_GATEWAY__GATEWAY__OPS_PORT", "9090").is_err());
}

/// The container's named ports are the config's listeners; every probe is an ops route on the ops
/// port; and those routes answer on a running gateway's ops listener.
#[tokio::test]
async fn probes_and_ports_match_what_the_binary_serves() {
    let docs = manifests();
    let cfg = base_config();
    let d = base_deployment(&docs);
    let c = container(&d);
    let port = |name: &str| -> u16 {
        let p = c["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("container port {name}"));
        u16::try_from(p["containerPort"].as_u64().expect("containerPort")).expect("u16")
    };
    assert_eq!(port("http"), cfg.gateway.listen.port(), "[gateway] listen");
    assert_eq!(
        port("ops"),
        cfg.gateway.ops_listen.port(),
        "[gateway] ops_listen"
    );
    assert!(
        cfg.gateway.listen.ip().is_unspecified(),
        "reachable from the Service"
    );
    assert!(
        cfg.gateway.ops_listen.ip().is_unspecified(),
        "reachable by the kubelet"
    );
    let probe_port = |probe: &Value| -> u16 {
        match &probe["httpGet"]["port"] {
            Value::String(name) => port(name),
            v => u16::try_from(v.as_u64().expect("port")).expect("u16"),
        }
    };
    let mut paths = Vec::new();
    for (probe, want) in [
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ] {
        let p = &c[probe];
        assert_eq!(p["httpGet"]["path"].as_str(), Some(want), "{probe}");
        assert_eq!(
            probe_port(p),
            cfg.gateway.ops_listen.port(),
            "{probe} on the ops port"
        );
        paths.push(want);
    }
    // The Services' target ports exist on the container; the partner Service exposes nothing else.
    for svc in in_dir(&docs, "base")
        .iter()
        .filter(|v| kind(v) == "Service")
    {
        for p in svc["spec"]["ports"].as_sequence().expect("ports") {
            port(p["targetPort"].as_str().expect("named targetPort"));
        }
        if svc["metadata"]["name"].as_str() == Some("ats-gateway") {
            let ports = svc["spec"]["ports"].as_sequence().expect("ports");
            assert_eq!(ports.len(), 1);
            assert_eq!(ports[0]["targetPort"].as_str(), Some("http"));
        }
    }
    // The sandbox overlay runs `sandbox` with its own listener flags: they must parse and match.
    let sandbox = in_dir(&docs, "overlays/sandbox")
        .into_iter()
        .find(|v| kind(v) == "Deployment")
        .expect("sandbox Deployment patch");
    let args: Vec<&str> = container(&sandbox)["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("arg"))
        .collect();
    let cli = Cli::try_parse_from(std::iter::once("ats-gateway").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("sandbox overlay args {args:?}: {e}"));
    match cli.command {
        Some(Command::Sandbox {
            listen, ops_listen, ..
        }) => {
            assert_eq!(listen.port(), port("http"));
            assert_eq!(ops_listen.map(|a| a.port()), Some(port("ops")));
        }
        other => panic!("sandbox overlay runs {other:?}"),
    }
    let serve = Cli::try_parse_from(
        std::iter::once("ats-gateway").chain(
            c["args"]
                .as_sequence()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("arg")),
        ),
    )
    .expect("base args");
    assert!(matches!(serve.command, Some(Command::Serve { .. })));
    // What the probes ask, a running gateway's ops listener answers.
    let app = spawn_app().await;
    for path in paths {
        assert_eq!(app.ops_get(path).await.status(), 200, "{path}");
    }
}

#[test]
fn the_grace_period_outlasts_the_drain() {
    let docs = manifests();
    let d = base_deployment(&docs);
    let pod = &d["spec"]["template"]["spec"];
    let grace_ms = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace")
        * 1000;
    let pre_stop_ms = container(&d)["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap_or(0)
        * 1000;
    // After the drain, the state store's last writes may take STOP_TAIL more.
    let tail_ms = ats_gateway::app::STOP_TAIL.as_millis() as u64;
    for (name, cfg) in configmap_configs() {
        assert!(
            grace_ms > pre_stop_ms + cfg.gateway.shutdown_grace_ms + tail_ms,
            "{name}: terminationGracePeriodSeconds ({grace_ms} ms) must exceed preStop ({pre_stop_ms} ms) + shutdown_grace_ms ({}) + the stop's tail ({tail_ms} ms)",
            cfg.gateway.shutdown_grace_ms
        );
    }
    // No overlay shortens it.
    for (file, doc) in &docs {
        let g = &doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"];
        assert!(
            g.is_null() || g.as_u64() == Some(grace_ms / 1000),
            "{}",
            file.display()
        );
    }
}

/// Files the config reads come from Secret volumes; only the state directory and /tmp are
/// writable; the pod runs as the image's non-root uid with everything dropped.
#[test]
fn secrets_are_mounted_and_the_pod_is_locked_down() {
    let docs = manifests();
    let cfg = base_config();
    let d = base_deployment(&docs);
    let pod = &d["spec"]["template"]["spec"];
    let c = container(&d);
    let volume = |name: &str| -> &Value {
        pod["volumes"]
            .as_sequence()
            .expect("volumes")
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("volume {name}"))
    };
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount_of = |path: &Path| -> &Value {
        let dir = path.parent().expect("file in a directory");
        let m = mounts
            .iter()
            .find(|m| m["mountPath"].as_str().map(Path::new) == Some(dir))
            .unwrap_or_else(|| panic!("{} is not mounted", dir.display()));
        volume(m["name"].as_str().expect("mount name"))
    };
    let d_cfg = &cfg.dataverse;
    let files = [
        d_cfg
            .client_secret_file
            .clone()
            .expect("client_secret_file"),
        cfg.auth.signing_key_file.clone().expect("signing_key_file"),
        cfg.auth.partners_file.clone().expect("partners_file"),
    ];
    for f in &files {
        let v = mount_of(f);
        assert!(
            v.get("secret").is_some(),
            "{} comes from a Secret",
            f.display()
        );
        let items = v["secret"]["items"].as_sequence();
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            items.is_none_or(|items| items.iter().any(|i| i["path"].as_str() == Some(name))),
            "{} is projected",
            f.display()
        );
    }
    let state = cfg.state.path.clone().expect("state path");
    // The gateway chmods its state directory 0700: it cannot do that to a volume's root (owned by
    // root), so the state directory lies inside the volume.
    let state_volume = state.parent().expect("state path inside the volume");
    let writable: BTreeSet<&str> = mounts
        .iter()
        .filter(|m| m["readOnly"].as_bool() != Some(true))
        .map(|m| m["mountPath"].as_str().expect("mountPath"))
        .collect();
    assert_eq!(
        writable,
        BTreeSet::from([state_volume.to_str().expect("utf-8"), "/tmp"]),
        "only the state directory and /tmp are writable"
    );
    for m in mounts
        .iter()
        .filter(|m| m["readOnly"].as_bool() != Some(true))
    {
        assert!(volume(m["name"].as_str().expect("name"))
            .get("emptyDir")
            .is_some());
    }
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["capabilities"]["drop"][0].as_str(), Some("ALL"));
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        psc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault")
    );
    let uid = psc["runAsUser"].as_u64().expect("fixed uid");
    assert_eq!(Some(uid), dockerfile_user(), "the image's USER");
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let sa = in_dir(&docs, "base")
        .into_iter()
        .find(|v| kind(v) == "ServiceAccount")
        .expect("ServiceAccount");
    assert_eq!(sa["automountServiceAccountToken"].as_bool(), Some(false));
    let pdb = in_dir(&docs, "base")
        .into_iter()
        .find(|v| kind(v) == "PodDisruptionBudget")
        .expect("PDB");
    assert_eq!(pdb["spec"]["minAvailable"].as_u64(), Some(1));
}

/// The production PrometheusRule is `deploy/prometheus/alerts.yml` (scripts/deploy/prometheusrule.sh).
#[test]
fn the_prometheus_rule_is_the_alert_file() {
    let alerts: Value =
        serde_yaml_ng::from_str(&read(&root().join("deploy/prometheus/alerts.yml"))).expect("yaml");
    let docs = manifests();
    let rule = in_dir(&docs, "overlays/production")
        .into_iter()
        .find(|v| kind(v) == "PrometheusRule")
        .expect("PrometheusRule");
    assert_eq!(
        rule["spec"], alerts,
        "run scripts/deploy/prometheusrule.sh after editing deploy/prometheus/alerts.yml"
    );
    let monitor = in_dir(&docs, "overlays/production")
        .into_iter()
        .find(|v| kind(v) == "ServiceMonitor")
        .expect("ServiceMonitor");
    assert_eq!(
        monitor["spec"]["endpoints"][0]["path"].as_str(),
        Some("/metrics")
    );
    assert_eq!(
        monitor["spec"]["endpoints"][0]["port"].as_str(),
        Some("ops")
    );
}

/// Dockerfile instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = read(&root().join("Dockerfile"));
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        let (op, rest) = cur.split_once(' ').unwrap_or((cur.as_str(), ""));
        out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
        cur.clear();
    }
    out
}

/// The final stage's instructions.
fn final_stage() -> Vec<(String, String)> {
    let all = dockerfile();
    let last_from = all.iter().rposition(|(op, _)| op == "FROM").expect("FROM");
    all[last_from..].to_vec()
}

fn dockerfile_env() -> Vec<(String, String)> {
    final_stage()
        .into_iter()
        .filter(|(op, _)| op == "ENV")
        .flat_map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn dockerfile_user() -> Option<u64> {
    let (_, user) = final_stage().into_iter().rfind(|(op, _)| op == "USER")?;
    user.split(':').next()?.parse().ok()
}

/// The image rules of issue 22 (hadolint lints the rest in CI).
#[test]
fn the_dockerfile_builds_a_locked_down_image() {
    let all = dockerfile();
    let stage = final_stage();
    assert!(
        all.iter().filter(|(op, _)| op == "FROM").count() >= 2,
        "multi-stage"
    );
    let uid = dockerfile_user().expect("USER is a numeric uid");
    assert!(uid != 0, "non-root");
    let env = |k: &str| {
        dockerfile_env()
            .into_iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v)
    };
    let listen: std::net::SocketAddr = env("ATS_GATEWAY__GATEWAY__LISTEN")
        .expect("LISTEN")
        .parse()
        .expect("addr");
    let ops: std::net::SocketAddr = env("ATS_GATEWAY__GATEWAY__OPS_LISTEN")
        .expect("OPS_LISTEN")
        .parse()
        .expect("addr");
    let exposed: BTreeSet<u16> = stage
        .iter()
        .filter(|(op, _)| op == "EXPOSE")
        .flat_map(|(_, rest)| {
            rest.split_whitespace()
                .map(|p| p.parse::<u16>().expect("port"))
        })
        .collect();
    assert_eq!(exposed, BTreeSet::from([listen.port(), ops.port()]));
    // The state volume is where the gateway keeps its state.
    let state = env("ATS_GATEWAY__STATE__PATH").expect("STATE__PATH");
    let (_, volume) = stage.iter().find(|(op, _)| op == "VOLUME").expect("VOLUME");
    let state_volume = Path::new(&state).parent().expect("inside the volume");
    assert_eq!(volume, &format!("[\"{}\"]", state_volume.display()));
    assert_eq!(
        state,
        base_config()
            .state
            .path
            .expect("path")
            .to_str()
            .expect("utf-8")
    );
    // HEALTHCHECK runs `ats-gateway healthcheck` against the ops listener's /healthz.
    let (_, hc) = stage
        .iter()
        .find(|(op, _)| op == "HEALTHCHECK")
        .expect("HEALTHCHECK");
    let cmd = hc.split_once("CMD ").expect("CMD").1;
    let argv: Vec<String> = serde_json::from_str(cmd).expect("exec form");
    let cli = Cli::try_parse_from(&argv).expect("healthcheck argv parses");
    match cli.command {
        Some(Command::Healthcheck { url }) => {
            assert_eq!(url, format!("http://127.0.0.1:{}/healthz", ops.port()));
        }
        other => panic!("HEALTHCHECK runs {other:?}"),
    }
    // OCI labels from build arguments; the sandbox feature a build argument.
    let labels: String = stage
        .iter()
        .filter(|(op, _)| op == "LABEL")
        .map(|(_, r)| r.as_str())
        .collect();
    for (label, arg) in [
        ("source", "SOURCE"),
        ("version", "VERSION"),
        ("revision", "REVISION"),
    ] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{label}=\"${{{arg}}}\"")),
            "label {label}"
        );
        assert!(stage
            .iter()
            .any(|(op, r)| op == "ARG" && r.starts_with(&format!("{arg}="))));
    }
    assert!(all
        .iter()
        .any(|(op, r)| op == "ARG" && r.starts_with("SANDBOX")));
    assert!(all
        .iter()
        .any(|(op, r)| op == "RUN" && r.contains("$SANDBOX")));
}

/// Kills the gateway process when the test ends (also on failure).
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The base Deployment as the kubelet would run it, minus the container: `serve` with the
/// ConfigMap's TOML, the env it lists (secretKeyRefs filled from the Secrets the README has the
/// operator create) and every Secret volume written where it is mounted. Paths move under a
/// temporary root and the emulator stands in for Entra and Dataverse (env overrides, as an operator
/// would set them); the pod gets ready and a partner from the mounted partners file gets a token.
#[tokio::test]
async fn serve_starts_from_the_base_manifests_secrets_and_config() {
    use std::collections::BTreeMap;
    use std::process::{Command as Process, Stdio};

    let emu = crate::common::emulator().await;
    let dir = tempfile::Builder::new()
        .prefix("atsgw-deploy-")
        .tempdir()
        .expect("dir");
    let moved = |p: &str| format!("{}{p}", dir.path().display());
    let (partner_secret, partner_hash) = ats_gateway::auth::create_partner_secret();
    let signing_key = {
        use p256::elliptic_curve::Generate;
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let pem = p256::SecretKey::generate()
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem");
        pem.to_string()
    };
    // The Secrets of README "Deploying".
    let secrets: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::from([
        (
            "ats-gateway-dataverse",
            BTreeMap::from([("client-secret", emu.config().client_secret.clone())]),
        ),
        (
            "ats-gateway-partners",
            BTreeMap::from([(
                "partners.toml",
                format!(
                    "[[partners]]\nid = \"k8s-partner\"\nclient_id = \"k8s-partner\"\n\
                     client_secret_hashes = [\"{partner_hash}\"]\nscopes = [\"reference:read\"]\n\
                     companies = [\"*\"]\n"
                ),
            )]),
        ),
        (
            "ats-gateway-keys",
            BTreeMap::from([
                ("cursor-key", "ab".repeat(32)),
                ("webhook-secret-key", "cd".repeat(32)),
                ("signing-key.pem", signing_key),
            ]),
        ),
    ]);
    let readme = read(&root().join("README.md"));
    for (name, keys) in &secrets {
        assert!(
            readme.contains(&format!("create secret generic {name}")),
            "README: {name}"
        );
        for key in keys.keys() {
            assert!(
                readme.contains(&format!("{key}=")),
                "README: {name} key {key}"
            );
        }
    }
    let docs = manifests();
    let d = base_deployment(&docs);
    let pod = &d["spec"]["template"]["spec"];
    let c = container(&d);
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    for m in c["volumeMounts"].as_sequence().expect("volumeMounts") {
        let name = m["name"].as_str().expect("name");
        let mount = PathBuf::from(moved(m["mountPath"].as_str().expect("mountPath")));
        std::fs::create_dir_all(&mount).expect("mount dir");
        let v = volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .expect("volume");
        let Some(secret_name) = v["secret"]["secretName"].as_str() else {
            continue;
        };
        let secret = secrets
            .get(secret_name)
            .unwrap_or_else(|| panic!("README names no Secret {secret_name}"));
        let files: Vec<(String, String)> = match v["secret"]["items"].as_sequence() {
            Some(items) => items
                .iter()
                .map(|i| {
                    let key = i["key"].as_str().expect("key");
                    (i["path"].as_str().expect("path").into(), key.into())
                })
                .collect(),
            None => secret
                .keys()
                .map(|k| (k.to_string(), k.to_string()))
                .collect(),
        };
        for (path, key) in files {
            let value = secret
                .get(key.as_str())
                .unwrap_or_else(|| panic!("Secret {secret_name} has no key {key}"));
            std::fs::write(mount.join(path), value).expect("write secret file");
        }
    }
    let toml = read(&root().join("deploy/k8s/base/config.toml"))
        .replace("\"/run/", &format!("\"{}/run/", dir.path().display()))
        .replace("\"/var/", &format!("\"{}/var/", dir.path().display()));
    let config = dir.path().join("config.toml");
    std::fs::write(&config, toml).expect("config");

    let mut cmd = Process::new(env!("CARGO_BIN_EXE_ats-gateway"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for e in c["env"].as_sequence().expect("env") {
        let name = e["name"].as_str().expect("name");
        let value = match (e["value"].as_str(), &e["valueFrom"]["secretKeyRef"]) {
            (Some(v), _) => v.to_string(),
            (None, r) => {
                let (s, k) = (
                    r["name"].as_str().expect("name"),
                    r["key"].as_str().expect("key"),
                );
                secrets[s][k].clone()
            }
        };
        cmd.env(name, value);
    }
    cmd.env("ATS_GATEWAY_CONFIG", &config)
        .env("ATS_GATEWAY__DATAVERSE__ORG_URL", &emu.handle.url)
        .env("ATS_GATEWAY__DATAVERSE__AUTHORITY", &emu.handle.url)
        .env(
            "ATS_GATEWAY__DATAVERSE__TENANT_ID",
            emu.config().tenant_id.to_string(),
        )
        .env(
            "ATS_GATEWAY__DATAVERSE__CLIENT_ID",
            emu.config().client_id.to_string(),
        );
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("arg"))
        .collect();
    cmd.args(&args)
        .args(["--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"]);
    let (_child, ready) = start_ready(cmd).await;
    let (gw, ops) = (
        ready["gateway"].as_str().expect("gateway"),
        ready["ops"].as_str().expect("ops"),
    );
    assert_eq!(wait_ready(ops).await, 200, "/readyz");
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{gw}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "k8s-partner"),
            ("client_secret", partner_secret.as_str()),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(token.status(), 200, "the mounted partners file is read");
    // The state directory was created inside the state volume.
    let state = moved(
        base_config()
            .state
            .path
            .expect("path")
            .to_str()
            .expect("utf-8"),
    );
    assert!(Path::new(&state).is_dir(), "{state}");
}

/// Starts the process and reads its one-line JSON ready object.
async fn start_ready(mut cmd: std::process::Command) -> (Kill, serde_json::Value) {
    use std::io::{BufRead, BufReader};
    let mut child = Kill(cmd.spawn().expect("spawn"));
    let stdout = child.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("read line");
    let ready = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("no ready line from the manifests' command ({e}): {line:?}"));
    (child, ready)
}

/// `/readyz`'s status once it is 200, or the last one after a bounded wait (readiness needs a
/// Dataverse token and an upstream probe).
async fn wait_ready(ops: &str) -> u16 {
    let http = reqwest::Client::new();
    let mut status = 0;
    for _ in 0..300 {
        status = http
            .get(format!("{ops}/readyz"))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        if status == 200 {
            break;
        }
        // The poll interval of a bounded wait for an observable state, not a synchronisation guess.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

/// The sandbox overlay's pod: its config replaces the base's, its args run `sandbox`, and the
/// env the patch leaves needs no Secret. Listeners move to free loopback ports; it gets ready
/// and its ready line lists the demo partners.
#[tokio::test]
async fn the_sandbox_overlay_starts_without_secrets() {
    use std::process::{Command as Process, Stdio};
    let docs = manifests();
    let base = base_deployment(&docs);
    let patch = in_dir(&docs, "overlays/sandbox")
        .into_iter()
        .find(|v| kind(v) == "Deployment")
        .expect("sandbox patch");
    let deleted: BTreeSet<&str> = container(&patch)["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter(|e| e.get("$patch").is_some())
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    let dir = tempfile::Builder::new()
        .prefix("atsgw-deploy-sandbox-")
        .tempdir()
        .expect("dir");
    let toml = read(&root().join("deploy/k8s/overlays/sandbox/config.toml"))
        .replace("\"/var/", &format!("\"{}/var/", dir.path().display()));
    let config = dir.path().join("config.toml");
    std::fs::write(&config, toml).expect("config");
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_ats-gateway"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for e in container(&base)["env"].as_sequence().expect("env") {
        let name = e["name"].as_str().expect("name");
        if deleted.contains(name) {
            continue;
        }
        let value = e["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} needs a Secret in the sandbox overlay"));
        cmd.env(name, value);
    }
    cmd.env("ATS_GATEWAY_CONFIG", &config);
    for arg in container(&patch)["args"].as_sequence().expect("args") {
        let arg = arg.as_str().expect("arg");
        // Same flags, free loopback ports.
        match arg.split_once('=') {
            Some((flag, _)) if flag.starts_with("--") => cmd.arg(format!("{flag}=127.0.0.1:0")),
            _ => cmd.arg(arg),
        };
    }
    let (_child, ready) = start_ready(cmd).await;
    assert_eq!(wait_ready(ready["ops"].as_str().expect("ops")).await, 200);
    assert!(
        !ready["partners"].as_array().expect("partners").is_empty(),
        "demo partners"
    );
    let state = dir.path().join("var/lib/ats-gateway/data");
    assert!(state.is_dir(), "state directory inside the volume");
}

/// The production replicas share state: `[state] url` and `[cluster] redis_url` come from Secrets by
/// `secretKeyRef`, never as plain values (they carry passwords); `replicas_hint` is the autoscaler's floor.
#[test]
fn production_takes_the_shared_state_urls_from_secrets() {
    let docs = manifests();
    let mut from_secrets = BTreeSet::new();
    for d in in_dir(&docs, "overlays/production")
        .iter()
        .filter(|v| kind(v) == "Deployment")
    {
        for e in container(d)["env"].as_sequence().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or_default();
            if name == "ATS_GATEWAY__CLUSTER__REPLICAS_HINT" {
                let hint = e["value"].as_str().and_then(|v| v.parse::<u64>().ok());
                let min = in_dir(&docs, "overlays/production")
                    .iter()
                    .find(|v| kind(v) == "HorizontalPodAutoscaler")
                    .and_then(|h| h["spec"]["minReplicas"].as_u64());
                assert_eq!(hint, min, "replicas_hint is the autoscaler's minReplicas");
            }
            if name.ends_with("_URL") {
                assert!(e.get("value").is_none(), "{name} is set in plain text");
                assert!(
                    e["valueFrom"]["secretKeyRef"]["name"].as_str().is_some(),
                    "{name} comes from a Secret"
                );
                from_secrets.insert(name.to_string());
            }
        }
    }
    for key in ["ATS_GATEWAY__STATE__URL", "ATS_GATEWAY__CLUSTER__REDIS_URL"] {
        assert!(from_secrets.contains(key), "{key}: {from_secrets:?}");
    }
}
