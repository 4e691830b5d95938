//! A validated configuration compiled into the DLP engine: dictionary and
//! fingerprint files read (errors at the entity's `path`), definitions
//! handed to [`Engine::new`].

use sluice_config::{Config, ConfigError, ConfigErrors, EntityKind};
use sluice_dlp::{
    Definitions, Dictionary, Engine, EntityDefinition, FingerprintSet, ProfileDefinition,
    RuleDefinition,
};

/// The engine of `config`; every unreadable file is reported.
pub(crate) fn engine(config: &Config) -> Result<Engine, ConfigErrors> {
    let file = config.file.display().to_string();
    let mut errors = Vec::new();
    let mut entities = Vec::new();
    for e in &config.entity {
        let cannot_read = |path: &std::path::Path, err: std::io::Error| {
            format!("cannot read {}: {err}", path.display())
        };
        let kind = match &e.kind {
            EntityKind::Dictionary {
                path,
                case_sensitive,
            } => std::fs::File::open(path)
                .map_err(|err| cannot_read(path, err))
                .and_then(|f| {
                    Dictionary::from_csv(f).map_err(|err| format!("{}: {err}", path.display()))
                })
                .map(|dictionary| sluice_dlp::EntityKind::Dictionary {
                    dictionary,
                    case_sensitive: *case_sensitive,
                }),
            EntityKind::Fingerprint { path, similarity } => std::fs::read_to_string(path)
                .map_err(|err| cannot_read(path, err))
                .and_then(|text| {
                    FingerprintSet::from_json(&text)
                        .map_err(|err| format!("{}: {err}", path.display()))
                })
                .map(|documents| sluice_dlp::EntityKind::Fingerprint {
                    documents,
                    similarity: *similarity,
                }),
            EntityKind::Regex {
                pattern,
                case_sensitive,
            } => Ok(sluice_dlp::EntityKind::Regex {
                pattern: pattern.clone(),
                case_sensitive: *case_sensitive,
            }),
            EntityKind::Identifier(id) => Ok(sluice_dlp::EntityKind::Identifier(*id)),
        };
        match kind {
            Ok(kind) => entities.push(EntityDefinition::new(e.name.clone(), kind)),
            Err(message) => errors.push(ConfigError {
                file: file.clone(),
                path: format!("entity {:?}.path", e.name),
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let rules = config
        .rule
        .iter()
        .map(|r| {
            let entities: Vec<&str> = r.entities.iter().map(String::as_str).collect();
            let mut rule = RuleDefinition::new(r.name.clone(), &entities);
            rule.count = r.count;
            rule.scope = r.scope.clone();
            rule.severity = r.severity;
            rule.require = r.require.clone();
            rule.proximity = r.proximity;
            rule
        })
        .collect();
    let profiles = config
        .profile
        .iter()
        .map(|p| {
            let rules: Vec<&str> = p.rules.iter().map(String::as_str).collect();
            ProfileDefinition::new(p.name.clone(), &rules)
        })
        .collect();
    Engine::new(Definitions::new(entities, rules, profiles)).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file,
            path: "(definitions)".into(),
            message: e.to_string(),
        }])
    })
}
