// figment's Jail closures return its (large) error type by design.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

#[test]
fn a_debug_binary_serves_the_debug_assets_and_a_release_binary_the_release_ones() {
    // `make test` builds target/site-debug; `make run` serves target/site.
    let expected = if cfg!(debug_assertions) {
        "target/site-debug"
    } else {
        "target/site"
    };
    assert_eq!(Config::default().site_root, PathBuf::from(expected));
    let build = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/build.sh")).unwrap();
    assert!(build.contains("if $release; then site=target/site; else site=target/site-debug; fi"));
}

fn flags(bind: &str) -> Overrides {
    Overrides {
        bind: Some(bind.parse().unwrap()),
        ..Overrides::default()
    }
}

#[test]
fn defaults_are_the_zero_setup_ones() {
    Jail::expect_with(|_| {
        let config = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(config.bind, SocketAddr::from(([127, 0, 0, 1], 3000)));
        assert_eq!(
            config.effective_database_url(),
            "sqlite://data/model-gateway.db?mode=rwc"
        );
        assert!(!config.serves_https());
        Ok(())
    });
}

#[test]
fn file_then_environment_then_flags_take_precedence() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "mgw.toml",
            "bind = \"127.0.0.1:4001\"\ndata_dir = \"from-file\"\n[database]\nmax_connections = 3\n",
        )?;
        jail.set_env("MGW_DATA_DIR", "from-env");
        jail.set_env("MGW_DATABASE__MAX_CONNECTIONS", "5");
        let config = Config::load(Some(Path::new("mgw.toml")), &Overrides::default()).unwrap();
        assert_eq!(config.bind.port(), 4001, "the file beats the default");
        assert_eq!(
            config.data_dir,
            PathBuf::from("from-env"),
            "the environment beats the file"
        );
        assert_eq!(config.database.max_connections, 5);
        let config = Config::load(Some(Path::new("mgw.toml")), &flags("127.0.0.1:4002")).unwrap();
        assert_eq!(config.bind.port(), 4002, "a flag beats the file");
        Ok(())
    });
}

#[test]
fn the_currency_is_an_iso_code() {
    Jail::expect_with(|jail| {
        assert_eq!(Config::load(None, &Overrides::default()).unwrap().currency, "USD");
        jail.set_env("MGW_CURRENCY", "EUR");
        assert_eq!(Config::load(None, &Overrides::default()).unwrap().currency, "EUR");
        for bad in ["eur", "EURO", "€", ""] {
            jail.set_env("MGW_CURRENCY", bad);
            let err = Config::load(None, &Overrides::default()).unwrap_err().to_string();
            assert!(err.contains("`currency`"), "{bad:?}: {err}");
        }
        Ok(())
    });
}

#[test]
fn variables_that_are_not_config_keys_are_ignored() {
    Jail::expect_with(|jail| {
        jail.set_env("MGW_ADMIN_PASSWORD", "not a config key");
        jail.set_env("MGW_TEST_POSTGRES_URL", "postgres://x");
        assert!(Config::load(None, &Overrides::default()).is_ok());
        Ok(())
    });
}

#[test]
fn errors_name_the_key() {
    Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[database]\nmax_connections = \"many\"\n")?;
        let err = Config::load(Some(Path::new("bad.toml")), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.max_connections"), "{err}");

        jail.create_file("unknown.toml", "[sessions]\nidle = \"1h\"\n")?;
        let err = Config::load(Some(Path::new("unknown.toml")), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("idle"), "{err}");

        jail.set_env("MGW_SESSIONS__IDLE_TIMEOUT", "2d");
        jail.set_env("MGW_SESSIONS__ABSOLUTE_TIMEOUT", "1d");
        let err = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("sessions.absolute_timeout"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("MGW_DATABASE_URL", "mysql://nope");
        let err = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("database_url"), "{err}");
        jail.set_env("MGW_DATABASE_URL", "sqlite://x.db");
        jail.set_env("MGW_MASTER_KEY", "too-short");
        let err = Config::load(None, &Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("master_key"), "{err}");
        assert!(!err.contains("too-short"), "a secret must not be echoed: {err}");
        Ok(())
    });
}

#[test]
fn debug_output_hides_database_passwords() {
    let config = Config {
        database_url: Some("postgres://mgw:s3cret@db:5432/mgw".into()),
        ..Config::default()
    };
    let printed = format!("{config:?}");
    assert!(printed.contains("postgres://mgw:<redacted>@db:5432/mgw"), "{printed}");
    assert!(!printed.contains("s3cret"));
    assert_eq!(redact_password("sqlite://data/x.db"), "sqlite://data/x.db");
}

#[test]
fn a_sqlite_url_without_a_mode_creates_its_file() {
    let config = Config {
        database_url: Some("sqlite://x.db".into()),
        ..Config::default()
    };
    assert_eq!(config.effective_database_url(), "sqlite://x.db?mode=rwc");
    let config = Config {
        database_url: Some("sqlite://x.db?mode=ro".into()),
        ..Config::default()
    };
    assert_eq!(config.effective_database_url(), "sqlite://x.db?mode=ro");
}

#[test]
fn a_missing_config_file_is_an_error() {
    Jail::expect_with(|_| {
        let err = Config::load(Some(Path::new("nope.toml")), &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
        Ok(())
    });
}

#[test]
fn the_example_config_loads() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/model-gateway.example.toml");
    Jail::expect_with(|_| {
        let config = Config::load(Some(Path::new(example)), &Overrides::default()).unwrap();
        assert_eq!(config.bind, SocketAddr::from(([127, 0, 0, 1], 3000)));
        assert_eq!(config.sessions.idle_timeout, Duration::from_secs(12 * 3600));
        Ok(())
    });
}

#[test]
fn cors_origins_are_star_or_an_origin_without_a_path() {
    let with = |origins: &[&str]| {
        let mut config = Config::default();
        config.proxy.cors_origins = origins.iter().map(|o| o.to_string()).collect();
        config.validate()
    };
    assert!(with(&["*"]).is_ok());
    assert!(with(&["https://app.example.com", "http://localhost:5173"]).is_ok());
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "https://",
        "https://*.example.com",
    ] {
        let refused = with(&[bad]).unwrap_err();
        assert!(refused.to_string().contains("proxy.cors_origins"), "{bad}: {refused}");
    }
}
