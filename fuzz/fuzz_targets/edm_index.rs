//! EDM index files: mapped from hostile bytes (checked against a fixed
//! salt), then searched with a text that has cells of the seed's table.
#![no_main]
use libfuzzer_sys::fuzz_target;

/// The salt `fuzz/run.sh` builds the seed index with.
const SALT: &[u8] = b"sluice fuzzing salt, not a secret\n";

fuzz_target!(init: sluice_fuzz::count_only_uncaught_panics(), |data: &[u8]| {
    let Ok(index) = sluice_dlp::EdmIndex::from_bytes(data.to_vec(), SALT) else {
        return;
    };
    let Ok(engine) = sluice_dlp::Engine::new(sluice_dlp::Definitions::new(
        vec![sluice_dlp::EntityDefinition::edm(
            "rows",
            std::sync::Arc::new(index),
            sluice_dlp::EdmSettings {
                min_columns: 1,
                ..Default::default()
            },
        )],
        vec![sluice_dlp::RuleDefinition::new("r", &["rows"])],
        vec![],
    )) else {
        return;
    };
    let _ = engine.scan_str(
        "Anne O'Brien, anne.obrien@example.org, +1 (555) 010-4477, ACC-77120934; \
         Chen Wei 555-010-9999 and ACC 10000001",
    );
});
