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
            EntityKind::Fingerprint {
                path,
                similarity,
                min_passage_words,
            } => std::fs::read_to_string(path)
                .map_err(|err| cannot_read(path, err))
                .and_then(|text| {
                    FingerprintSet::from_json(&text)
                        .map_err(|err| format!("{}: {err}", path.display()))
                })
                .map(|documents| sluice_dlp::EntityKind::Fingerprint {
                    documents,
                    similarity: *similarity,
                    min_passage_words: *min_passage_words,
                }),
            EntityKind::Edm {
                path,
                salt_file,
                min_columns,
                primary,
                max_value_rows,
            } => sluice_dlp::read_salt(salt_file)
                .and_then(|salt| sluice_dlp::EdmIndex::open(path, &salt))
                .map_err(|err| match err {
                    sluice_dlp::EdmError::Io { .. } => err.to_string(),
                    _ => format!("{}: {err}", path.display()),
                })
                .map(|index| sluice_dlp::EntityKind::Edm {
                    index: std::sync::Arc::new(index),
                    settings: sluice_dlp::EdmSettings {
                        min_columns: *min_columns,
                        primary: primary.clone(),
                        max_value_rows: *max_value_rows,
                    },
                }),
            EntityKind::Regex {
                pattern,
                case_sensitive,
            } => Ok(sluice_dlp::EntityKind::Regex {
                pattern: pattern.clone(),
                case_sensitive: *case_sensitive,
            }),
            EntityKind::Identifier { identifier, .. } => {
                Ok(sluice_dlp::EntityKind::Identifier(*identifier))
            }
        };
        let (keywords, exclude) = match &e.kind {
            EntityKind::Identifier {
                identifier,
                keywords,
                exclude,
                exclude_path,
            } => match excluded(*identifier, exclude, exclude_path.as_deref()) {
                Ok(exclude) => (keywords.clone(), exclude),
                Err(message) => {
                    errors.push(ConfigError {
                        file: file.clone(),
                        path: format!("entity {:?}.exclude_path", e.name),
                        message,
                    });
                    continue;
                }
            },
            _ => (Vec::new(), Vec::new()),
        };
        match kind {
            Ok(kind) => entities.push(
                EntityDefinition::new(e.name.clone(), kind)
                    .with_keywords(keywords)
                    .with_exclude(exclude),
            ),
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
            rule.min_confidence = r.min_confidence;
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

/// An identifier entity's `exclude` values and those of its
/// `exclude_path` (one a line; blank lines and `#` comments skipped), each
/// a valid value of the type; the error names the first line that is not.
fn excluded(
    identifier: sluice_dlp::Identifier,
    exclude: &[String],
    exclude_path: Option<&std::path::Path>,
) -> Result<Vec<String>, String> {
    let mut all = exclude.to_vec();
    let Some(path) = exclude_path else {
        return Ok(all);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let value = line.split('#').next().unwrap_or_default().trim();
        if value.is_empty() {
            continue;
        }
        if identifier.normalize(value).is_none() {
            return Err(format!(
                "{} line {}: {value:?} is not one valid {} value",
                path.display(),
                n + 1,
                identifier.name()
            ));
        }
        all.push(value.to_owned());
    }
    Ok(all)
}
