//! `[state] url = "postgres://…"`: the shared backend opens, migrates once under its lock (two
//! replicas starting together), shares generated keys, and says what is wrong without the password.

use crate::common::postgres::PgServer;
use crate::common::{emulator, spawn_replica};
use ats_gateway::config::SecretString;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_start_together_on_one_fresh_database_and_migrate_once() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let url = pg.url();
    let emu = emulator().await;
    let (a, b) = tokio::join!(
        spawn_replica(&emu, |c| c.state.url = SecretString::new(url.as_str())),
        spawn_replica(&emu, |c| c.state.url = SecretString::new(url.as_str())),
    );
    for r in [&a, &b] {
        let ready = reqwest::get(format!("{}/readyz", r.ops_url))
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200);
        assert!(r.gateway.state.postgres.is_some());
    }
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version",
            &[],
        )
        .await
        .expect("migrations");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row.get::<_, i64>(1), 1, "a migration recorded twice");
    }
}

#[tokio::test]
async fn replicas_share_generated_keys() {
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .expect("pg");
    let ttl = Duration::from_secs(60);
    let a = ats_gateway::store::postgres::PgStore::connect(&pg.url(), 2, ttl)
        .await
        .expect("a");
    let b = ats_gateway::store::postgres::PgStore::connect(&pg.url(), 2, ttl)
        .await
        .expect("b");
    let ka = a.shared_key("cursor.key").await.expect("key a");
    let kb = b.shared_key("cursor.key").await.expect("key b");
    assert_eq!(ka, kb);
    assert_ne!(ka, a.shared_key("other").await.expect("other"));
    assert_ne!(a.replica(), b.replica());
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_start_error_naming_the_key_without_the_password() {
    let emu = emulator().await;
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut config = crate::common::gateway_config(&emu);
    config.state.url = SecretString::new(format!("postgres://gw:s3cret-pw@127.0.0.1:{port}/db"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = ats_gateway::app::start(config, listener)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("state.url"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
}

#[test]
fn state_urls_are_checked_when_the_configuration_loads() {
    use ats_gateway::config::{StateConfig, StateLocation};
    let with = |url: &str| StateConfig {
        url: SecretString::new(url),
        ..StateConfig::default()
    };
    assert_eq!(
        with("sqlite://data/gw.db").location().expect("sqlite"),
        StateLocation::Sqlite {
            dir: Some("data".into()),
            file: "gw.db".into()
        }
    );
    assert!(matches!(
        with("postgres://u@h/db").location(),
        Ok(StateLocation::Postgres { .. })
    ));
    let err = with("mysql://u:pw@h/db").location().expect_err("refused");
    assert!(!err.to_string().contains("pw@"), "{err}");
}
