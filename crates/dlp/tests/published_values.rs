//! The types python-stdnum lacks, judged by their published rules and the
//! example values their issuers and vendors publish; and how people write
//! the others. Each valid value must be found in a sentence, each broken
//! one (a changed check character, a wrong prefix, length or date) not.

use sluice_dlp::Identifier;

fn found(id: Identifier, text: &str) -> Vec<String> {
    id.find(&format!("Details as requested: {text}. Regards"))
        .into_iter()
        .map(|m| m.value)
        .collect()
}

fn assert_cases(id: Identifier, valid: &[&str], invalid: &[&str]) {
    for v in valid {
        assert_eq!(found(id, v).len(), 1, "{} should find {v:?}", id.name());
    }
    for v in invalid {
        assert!(
            found(id, v).is_empty(),
            "{} should not find {v:?}",
            id.name()
        );
    }
}

#[test]
fn us_health_identifiers() {
    // CMS's NPI example; the DEA check; CMS's MBI example.
    assert_cases(
        Identifier::UsNpi,
        &["1234567893"],
        &["1234567890", "3234567893", "123456789"],
    );
    assert_cases(
        Identifier::UsDea,
        &["AB1234563", "F91234563"],
        &["AB1234564", "IB1234563", "AB123456"],
    );
    assert_cases(
        Identifier::UsMbi,
        &["1EG4-TE5-MK73", "1EG4TE5MK73"],
        &[
            "1EG4-TE5-MK7",
            "0EG4-TE5-MK73",
            "1SG4-TE5-MK73",
            "1EG4-TE5-M173",
        ],
    );
    assert_cases(
        Identifier::UsPassport,
        &["C03005988", "912345678"],
        &["C0300598", "CC3005988"],
    );
}

#[test]
fn uk_nino_and_au_medicare_and_sg_nric() {
    assert_cases(
        Identifier::UkNino,
        &["AB 12 34 56 C", "AB123456C", "ab123456c"],
        &[
            "QQ 12 34 56 C",
            "GB 12 34 56 C",
            "AB 12 34 56 E",
            "AO 12 34 56 C",
        ],
    );
    assert_cases(
        Identifier::AuMedicare,
        &["2123 45670 1", "2123456701"],
        &["2123 45671 1", "7123 45670 1", "2123 45670 0"],
    );
    assert_cases(
        Identifier::SgNric,
        &["S1234567D", "T1234567J"],
        &["S1234567E", "A1234567D", "S123456D"],
    );
}

#[test]
fn written_the_ways_people_write_them() {
    assert_eq!(found(Identifier::UsSsn, "123-45-6789"), ["123-45-6789"]);
    assert_eq!(
        found(Identifier::UsSsn, "486907338").len(),
        1,
        "bare digits"
    );
    assert_eq!(found(Identifier::EuVat, "DE 136 695 976"), ["DE136695976"]);
    assert_eq!(found(Identifier::EuVat, "NL 8543.80.437.B01").len(), 1);
    assert_eq!(
        found(Identifier::ChAhv, "756.1234.5678.97"),
        ["7561234567897"]
    );
    assert_eq!(found(Identifier::NlBsn, "1112.22.333"), ["111222333"]);
    assert_eq!(found(Identifier::BrCpf, "390.533.447-05"), ["39053344705"]);
    assert_eq!(found(Identifier::BrCnpj, "16.727.230/0001-97").len(), 1);
    assert_eq!(found(Identifier::EsNie, "X-1234567-L"), ["X1234567L"]);
    assert_eq!(found(Identifier::EsDni, "12345678-Z"), ["12345678Z"]);
    assert_eq!(found(Identifier::FiHetu, "131052-308T"), ["131052308T"]);
    assert_eq!(
        found(Identifier::KrRrn, "971013-9019902"),
        ["9710139019902"]
    );
    assert_eq!(
        found(Identifier::InAadhaar, "2341 2341 2346"),
        ["234123412346"]
    );
    assert_eq!(
        found(Identifier::Iban, "gb82 west 1234 5698 7654 32"),
        ["GB82WEST12345698765432"]
    );
    assert_eq!(found(Identifier::SwiftBic, "DEUTDEFF500"), ["DEUTDEFF500"]);
    assert!(
        found(Identifier::SwiftBic, "deutdeff").is_empty(),
        "BICs are written in capitals"
    );
    // Inside a longer unbroken run: no match.
    assert!(found(Identifier::NlBsn, "1111222333").is_empty());
    assert!(found(Identifier::UsSsn, "x123-45-6789").is_empty());
}

#[test]
fn secrets_from_vendor_documentation() {
    let cases: &[(Identifier, &str)] = &[
        (Identifier::StripeKey, "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        (Identifier::GoogleApiKey, "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
        (
            Identifier::SlackWebhookUrl,
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        (
            Identifier::OpenaiApiKey,
            "sk-proj-abcdefghij0123456789T3BlbkFJabcdefghij0123456789",
        ),
        (
            Identifier::AnthropicApiKey,
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW-AA",
        ),
        (
            Identifier::AzureStorageKey,
            "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        ),
        (Identifier::UrlCredentials, "postgres://app:s3cr3t-Pa55@db.internal.example.com:5432/app"),
        (Identifier::Ipv6Address, "2001:db8::8a2e:370:7334"),
        (Identifier::Ipv6Address, "fe80::1"),
    ];
    for (id, text) in cases {
        assert_eq!(found(*id, text).len(), 1, "{}: {text}", id.name());
    }
    let aws = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_eq!(Identifier::AwsSecretAccessKey.find(aws).len(), 1);
    assert!(
        Identifier::AwsSecretAccessKey
            .find("checksum wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY of the file")
            .is_empty(),
        "40 characters alone are no AWS secret"
    );
    let ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(Identifier::PrivateKey.find(ssh).len(), 1);
    for not_secret in [
        "postgres://user:password@localhost/db",
        "https://user:****@example.com",
        "the meeting is at 12:30:45",
        "use std::io::Read",
        "sk_live_short",
    ] {
        for id in Identifier::ALL {
            if matches!(
                id,
                Identifier::UrlCredentials | Identifier::Ipv6Address | Identifier::StripeKey
            ) {
                assert!(
                    found(id, not_secret).is_empty(),
                    "{}: {not_secret}",
                    id.name()
                );
            }
        }
    }
}

#[test]
fn masks_keep_what_tells_values_apart_and_never_the_whole() {
    assert_eq!(Identifier::NlBsn.mask("1112.22.333"), "****.*2.333");
    assert_eq!(Identifier::EuVat.mask("DE 136 695 976"), "DE *** **5 976");
    assert_eq!(
        Identifier::StripeKey.mask("sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        "**_****_********************p7dc"
    );
    for id in Identifier::ALL {
        let masked = id.mask("AB12CD34");
        assert_ne!(masked, "AB12CD34", "{}", id.name());
    }
}
