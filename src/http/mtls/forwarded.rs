//! The client certificate a TLS-terminating proxy forwards in a header, read into its
//! SHA-256 thumbprint: one certificate as PEM (newlines, or spaces and tabs in their
//! place), URL-encoded PEM or base64 DER; or Envoy's `X-Forwarded-Client-Cert`. Pure
//! functions of the header value; whether the header is trusted at all is the caller's.
//!
//! Anything that does not read cleanly is [`Unreadable`]: the request then has no
//! certificate, and a certificate-bound token is refused. Nothing here logs or keeps
//! the value.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest as _, Sha256};

/// The largest header value read (a leaf certificate is 0.5–2 KiB; a short chain, a few).
pub(crate) const MAX_VALUE_BYTES: usize = 32 * 1024;

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Standard base64 with or without padding (proxies differ).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the configured header carries the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderForm {
    /// One certificate: PEM, URL-encoded PEM or base64 DER (nginx, AWS ALB, HAProxy,
    /// Traefik, Azure).
    Certificate,
    /// Envoy's `X-Forwarded-Client-Cert`: `Hash=…;Cert="<URL-encoded PEM>";…` elements.
    Xfcc,
}

/// Why a header value gave no certificate (for a debug event; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    TooLarge,
    PercentEncoding,
    Pem,
    Base64,
    NotDer,
    Xfcc,
    /// The XFCC element names no certificate (neither `Cert` nor `Hash`).
    XfccNoCertificate,
    /// The XFCC element's `Hash` is not the digest of its `Cert`.
    XfccHashMismatch,
}

impl Unreadable {
    /// The reason, for logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unreadable::TooLarge => "too large",
            Unreadable::PercentEncoding => "bad percent-encoding",
            Unreadable::Pem => "malformed PEM",
            Unreadable::Base64 => "bad base64",
            Unreadable::NotDer => "not a DER certificate",
            Unreadable::Xfcc => "malformed X-Forwarded-Client-Cert",
            Unreadable::XfccNoCertificate => "X-Forwarded-Client-Cert element without Cert or Hash",
            Unreadable::XfccHashMismatch => "X-Forwarded-Client-Cert Hash does not match Cert",
        }
    }
}

/// The SHA-256 thumbprint of the certificate a header value carries in `form`.
pub(crate) fn thumbprint(value: &[u8], form: HeaderForm) -> Result<[u8; 32], Unreadable> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Unreadable::TooLarge);
    }
    match form {
        HeaderForm::Certificate => certificate_der(value).map(|der| digest(&der)),
        HeaderForm::Xfcc => xfcc(value),
    }
}

fn digest(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// One certificate's DER: PEM (the first block of a chain: the leaf comes first),
/// percent-decoded first when it is URL-encoded, or base64 DER without armour.
fn certificate_der(value: &[u8]) -> Result<Vec<u8>, Unreadable> {
    let value = value.trim_ascii();
    // Neither PEM nor base64 contains `%`: a `%` means the value is URL-encoded.
    let decoded;
    let value = if value.contains(&b'%') {
        decoded = percent_decode(value)?;
        decoded.trim_ascii()
    } else {
        value
    };
    let der = if value.starts_with(BEGIN) {
        pem_first(value)?
    } else {
        let b64: Vec<u8> = value
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        BASE64.decode(b64).map_err(|_| Unreadable::Base64)?
    };
    check_der(&der)?;
    Ok(der)
}

/// `%XX` escapes decoded; everything else (a `+` too: base64 uses it) kept as is.
fn percent_decode(value: &[u8]) -> Result<Vec<u8>, Unreadable> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let byte = value
                .get(i + 1)
                .and_then(|&h| hex(h))
                .zip(value.get(i + 2).and_then(|&l| hex(l)))
                .map(|(h, l)| h << 4 | l)
                .ok_or(Unreadable::PercentEncoding)?;
            out.push(byte);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The DER of the first `CERTIFICATE` block of `value` (which starts with one); what
/// follows must be further complete blocks (a chain) and whitespace only. Whitespace
/// inside a block's base64 is skipped: newlines, or the spaces and tabs a proxy puts in
/// their place (a header value holds no newline).
fn pem_first(value: &[u8]) -> Result<Vec<u8>, Unreadable> {
    let mut rest = value;
    let mut first = None;
    while !rest.is_empty() {
        let body = rest.strip_prefix(BEGIN).ok_or(Unreadable::Pem)?;
        let end = find(body, END).ok_or(Unreadable::Pem)?;
        let b64: Vec<u8> = body[..end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let der = BASE64.decode(b64).map_err(|_| Unreadable::Pem)?;
        if first.is_none() {
            first = Some(der);
        }
        rest = body[end + END.len()..].trim_ascii_start();
    }
    first.ok_or(Unreadable::Pem)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The bytes are one DER `SEQUENCE` (what every X.509 certificate is), no more, no less:
/// a sanity check that the header held a certificate, not a proof of one.
fn check_der(der: &[u8]) -> Result<(), Unreadable> {
    let (&tag, rest) = der.split_first().ok_or(Unreadable::NotDer)?;
    let (&first, rest) = rest.split_first().ok_or(Unreadable::NotDer)?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x83 => {
            let n = usize::from(first & 0x7f);
            if rest.len() < n {
                return Err(Unreadable::NotDer);
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
            (len, &rest[n..])
        }
        _ => return Err(Unreadable::NotDer),
    };
    if tag != 0x30 || len != rest.len() {
        return Err(Unreadable::NotDer);
    }
    Ok(())
}

/// Envoy's `X-Forwarded-Client-Cert`: elements separated by `,`, each `key=value` pairs
/// separated by `;`, values optionally double-quoted (`\"` inside). The **last** element
/// is read: the one the proxy closest to this service added — the proxy whose address
/// the settings trust. A proxy that appends (`APPEND_FORWARD`) keeps what came before
/// it, which a client may have written; only the last element is surely the trusted
/// proxy's own. Its certificate is `Cert` (URL-encoded PEM), else `Hash` (hex SHA-256
/// of the DER, which Envoy always sets); with both, they must agree.
fn xfcc(value: &[u8]) -> Result<[u8; 32], Unreadable> {
    let value = std::str::from_utf8(value).map_err(|_| Unreadable::Xfcc)?;
    let element = split_unquoted(value, b',')?
        .pop()
        .ok_or(Unreadable::Xfcc)?
        .trim();
    if element.is_empty() {
        return Err(Unreadable::Xfcc);
    }
    let (mut cert, mut hash) = (None, None);
    for pair in split_unquoted(element, b';')? {
        let (key, raw) = pair.trim().split_once('=').ok_or(Unreadable::Xfcc)?;
        let slot = if key.eq_ignore_ascii_case("cert") {
            &mut cert
        } else if key.eq_ignore_ascii_case("hash") {
            &mut hash
        } else {
            continue;
        };
        if slot.replace(unquote(raw)?).is_some() {
            return Err(Unreadable::Xfcc);
        }
    }
    let from_cert = cert
        .map(|c| certificate_der(c.as_bytes()).map(|der| digest(&der)))
        .transpose()?;
    let from_hash = hash.map(|h| hex32(&h)).transpose()?;
    match (from_cert, from_hash) {
        (Some(c), Some(h)) if c != h => Err(Unreadable::XfccHashMismatch),
        (Some(c), _) => Ok(c),
        (None, Some(h)) => Ok(h),
        (None, None) => Err(Unreadable::XfccNoCertificate),
    }
}

/// `value` split at `sep` outside double quotes (a `\` escapes the next character
/// inside them); an unterminated quote is malformed.
fn split_unquoted(value: &str, sep: u8) -> Result<Vec<&str>, Unreadable> {
    let bytes = value.as_bytes();
    let (mut parts, mut start, mut quoted, mut i) = (Vec::new(), 0, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b if b == sep && !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if quoted {
        return Err(Unreadable::Xfcc);
    }
    parts.push(&value[start..]);
    Ok(parts)
}

/// A value without its surrounding quotes and `\` escapes.
fn unquote(raw: &str) -> Result<String, Unreadable> {
    let raw = raw.trim();
    let Some(inner) = raw.strip_prefix('"') else {
        return Ok(raw.to_owned());
    };
    let inner = inner.strip_suffix('"').ok_or(Unreadable::Xfcc)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().ok_or(Unreadable::Xfcc)?
        } else {
            c
        });
    }
    Ok(out)
}

/// 64 hex digits: a SHA-256 digest.
fn hex32(h: &str) -> Result<[u8; 32], Unreadable> {
    let h = h.as_bytes();
    if h.len() != 64 {
        return Err(Unreadable::Xfcc);
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(h.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).map_err(|_| Unreadable::Xfcc)?;
        *o = u8::from_str_radix(s, 16).map_err(|_| Unreadable::Xfcc)?;
    }
    Ok(out)
}

/// The standard base64 of DER bytes (for tests building header values).
#[cfg(test)]
pub(crate) fn base64_der(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal DER `SEQUENCE` standing in for a certificate (the parser checks only
    /// the outer structure), 300 bytes so the length takes the long form.
    fn der() -> Vec<u8> {
        let mut d = vec![0x30, 0x82, 0x01, 0x28];
        d.extend((0..296).map(|i| i as u8));
        d
    }

    fn pem(der: &[u8], newline: &str) -> String {
        let b64 = base64_der(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----{newline}{}{newline}-----END CERTIFICATE-----{newline}",
            lines.join(newline)
        )
    }

    fn url_encoded(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn single(v: &str) -> Result<[u8; 32], Unreadable> {
        thumbprint(v.as_bytes(), HeaderForm::Certificate)
    }

    #[test]
    fn every_single_certificate_form_gives_the_der_thumbprint() {
        let d = der();
        let want = Ok(digest(&d));
        assert_eq!(single(&pem(&d, "\n")), want, "PEM");
        assert_eq!(single(&pem(&d, " ")), want, "PEM, spaces for newlines");
        assert_eq!(
            single(&pem(&d, "\n\t")),
            want,
            "nginx $ssl_client_cert (tabs)"
        );
        assert_eq!(single(&url_encoded(&pem(&d, "\n"))), want, "URL-encoded");
        // AWS ALB keeps `+`, `=` and `/` unescaped.
        let alb = pem(&d, "\n").replace(' ', "%20").replace('\n', "%0A");
        assert_eq!(single(&alb), want, "ALB");
        assert_eq!(single(&base64_der(&d)), want, "base64 DER");
        let chain = format!("{}{}", pem(&d, "\n"), pem(&[0x30, 0x00], "\n"));
        assert_eq!(
            single(&chain),
            want,
            "a chain: its first (leaf) certificate"
        );
    }

    #[test]
    fn malformed_single_values_are_unreadable() {
        let d = der();
        let p = pem(&d, "\n");
        for (v, why) in [
            ("", Unreadable::NotDer),
            ("not a certificate!", Unreadable::Base64),
            ("%zz", Unreadable::PercentEncoding),
            (&p[..p.len() - 10], Unreadable::Pem),
            (&format!("{p}trailing"), Unreadable::Pem),
            (&p.replace("MII", "M!I"), Unreadable::Pem),
            (&base64_der(&d[..d.len() - 1]), Unreadable::NotDer),
            (&base64_der(&[0x31, 0x00]), Unreadable::NotDer),
        ] {
            assert_eq!(single(v), Err(why), "{v:?}");
        }
        let huge = "A".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(single(&huge), Err(Unreadable::TooLarge));
    }

    #[test]
    fn xfcc_reads_the_last_element_by_cert_or_hash() {
        let (d, other) = (der(), [0x30, 0x01, 0x05]);
        let cert = url_encoded(&pem(&d, "\n"));
        let x = |v: &str| thumbprint(v.as_bytes(), HeaderForm::Xfcc);
        let want = Ok(digest(&d));
        let by = "By=spiffe://cluster.local/ns/default/sa/api";
        assert_eq!(
            x(&format!("{by};Hash={};Cert=\"{cert}\"", hex(&digest(&d)))),
            want
        );
        assert_eq!(x(&format!("Cert={cert}")), want, "unquoted");
        assert_eq!(
            x(&format!("{by};Hash={}", hex(&digest(&d)))),
            want,
            "Hash only"
        );
        let subject = "Subject=\"CN=a,O=b;c \\\"q\\\"\"";
        assert_eq!(
            x(&format!("{subject};Cert=\"{cert}\"")),
            want,
            "quoted , ; \""
        );
        // Several elements: the last (the closest proxy's) counts, whatever came first.
        let first = format!("Cert=\"{}\"", url_encoded(&pem(&other, "\n")));
        assert_eq!(x(&format!("{first},{by};Cert=\"{cert}\"")), want);
        assert_eq!(
            x(&format!("{by};Cert=\"{cert}\",{first}")),
            Ok(digest(&other))
        );
        for (v, why) in [
            (format!("{first},{by}"), Unreadable::XfccNoCertificate),
            (
                format!("Hash={};Cert=\"{cert}\"", hex(&digest(&other))),
                Unreadable::XfccHashMismatch,
            ),
            (format!("Cert=\"{cert}\";Cert=\"{cert}\""), Unreadable::Xfcc),
            (format!("Cert=\"{cert}"), Unreadable::Xfcc),
            (format!("{first},"), Unreadable::Xfcc),
            ("Hash=abcd".to_owned(), Unreadable::Xfcc),
            ("Cert".to_owned(), Unreadable::Xfcc),
            (pem(&d, " "), Unreadable::Xfcc),
        ] {
            assert_eq!(x(&v), Err(why), "{v:?}");
        }
    }
}
