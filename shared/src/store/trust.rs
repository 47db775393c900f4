//! The TLS trust store of the DynamoDB client. By default only the roots DynamoDB's
//! certificates chain to, compiled in: the client never scans the machine's certificate
//! directories, which cost ~90 % of a function's init (README, "Cold start").
//! `KEYGATE_TLS_CA_FILE` replaces them with a PEM file's certificates, for a deployment that
//! reaches DynamoDB through something with its own CA (a TLS-inspecting proxy, a test).

use std::path::Path;

use aws_smithy_http_client::tls::TrustStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::ConfigError;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, as PEM.
const AMAZON_ROOTS: &[u8] = include_bytes!("amazon_roots.pem");

const CA_FILE_VARIABLE: &str = "KEYGATE_TLS_CA_FILE";

/// The trust store: the embedded Amazon roots, or every certificate in `ca_file`.
pub fn trust_store(ca_file: Option<&Path>) -> Result<TrustStore, ConfigError> {
    let pem = match ca_file {
        // Checked by a unit test, not at every cold start: decoding PEM is most of what
        // building the TLS client costs, and the HTTP client decodes it again anyway.
        None => AMAZON_ROOTS.to_vec(),
        Some(path) => {
            let pem = std::fs::read(path).map_err(|error| invalid(path, error.to_string()))?;
            // The HTTP client parses the PEM later and panics on a bad one: check it here,
            // so a bad file is a readable init failure naming the variable.
            let certificates = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| invalid(path, error.to_string()))?;
            if certificates.is_empty() {
                return Err(invalid(path, "it holds no PEM certificate".to_owned()));
            }
            // The first request builds the TLS connector (`store::https`), which panics on a
            // certificate it cannot trust: refuse it here, at init, instead.
            let mut roots = rustls::RootCertStore::empty();
            for (index, certificate) in certificates.into_iter().enumerate() {
                roots.add(certificate).map_err(|error| {
                    invalid(path, format!("certificate {}: {error}", index + 1))
                })?;
            }
            pem
        }
    };
    Ok(TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem))
}

fn invalid(path: &Path, reason: String) -> ConfigError {
    ConfigError::Invalid {
        name: CA_FILE_VARIABLE,
        reason: format!("{}: {reason}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_roots_are_the_five_amazon_roots() {
        let roots = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(roots.len(), 5);
        assert!(trust_store(None).is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_names_the_variable() {
        let missing = trust_store(Some(Path::new("/nonexistent/keygate-ca.pem"))).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("KEYGATE_TLS_CA_FILE is invalid")
        );
        let empty = std::env::temp_dir().join(format!("keygate-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = trust_store(Some(&empty)).unwrap_err().to_string();
        std::fs::remove_file(&empty).unwrap();
        assert!(error.contains("KEYGATE_TLS_CA_FILE") && error.contains("no PEM certificate"));
    }

    #[test]
    fn a_ca_file_certificate_that_cannot_be_trusted_names_the_variable() {
        let junk = std::env::temp_dir().join(format!("keygate-junk-{}.pem", std::process::id()));
        let pem =
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        std::fs::write(&junk, pem).unwrap();
        let error = trust_store(Some(&junk)).unwrap_err().to_string();
        std::fs::remove_file(&junk).unwrap();
        assert!(error.contains("KEYGATE_TLS_CA_FILE") && error.contains("certificate 1"));
    }
}
