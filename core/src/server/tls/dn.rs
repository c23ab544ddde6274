//! A certificate's subject as Java's `X500Principal.getName()` prints it (RFC 2253): the
//! id Apache's `X509AuthenticationProvider` gives a client, and so what `x509` ACLs name.
//!
//! RDNs are printed last-encoded first (`CN=client,OU=ops,O=example`), the attributes of a
//! multi-valued RDN joined by `+`. The RFC 2253 keywords (CN, C, L, ST, O, OU, STREET, DC,
//! UID) are printed by name; any other attribute (emailAddress, serialNumber, ...) as its
//! dotted OID with `#` and the hex of its DER value, as Java does. String values escape
//! `, = + < > # ; " \` and a leading or trailing space with a backslash.

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The RFC 2253 subject of the DER certificate `der`; `None` if it does not parse.
pub fn subject_of(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(rfc2253(cert.subject()))
}

/// The serial number of the DER certificate `der`, as lower-case hex.
pub fn serial_of(der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.raw_serial_as_string().replace(':', ""))
}

/// `name` in RFC 2253 form.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<_>>().join("+"))
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let value = attr.attr_value();
    let keyword = keyword(&oid);
    let text = keyword.and_then(|_| decode_string(value.tag().0, value.data));
    match (keyword, text) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
        _ => {
            // Java prints the whole DER value: tag, length, contents.
            let mut der = vec![der_identifier(value.tag().0, value.header.is_constructed())];
            der.extend(der_length(value.data.len()));
            der.extend_from_slice(value.data);
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("{oid}=#{hex}")
        }
    }
}

/// The keywords Java's RFC 2253 form uses.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The text of a DirectoryString (and the other string types names use).
fn decode_string(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        12 | 18 | 19 | 22 | 26 => String::from_utf8(data.to_vec()).ok(),
        // TeletexString: Java reads it as ISO-8859-1.
        20 => Some(data.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        30 => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE.
        28 => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        if ",=+<>#;\"\\".contains(c) || (c == ' ' && (i == 0 || i == last)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn der_identifier(tag: u32, constructed: bool) -> u8 {
    // Attribute values are universal-class with small tag numbers.
    (tag as u8 & 0x1f) | if constructed { 0x20 } else { 0 }
}

fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|&b| b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_java_does() {
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape(" lead"), "\\ lead");
        assert_eq!(escape("trail "), "trail\\ ");
        assert_eq!(escape("x=y+z#\"\\;<>"), "x\\=y\\+z\\#\\\"\\\\\\;\\<\\>");
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn decodes_string_types() {
        assert_eq!(decode_string(19, b"abc").as_deref(), Some("abc"));
        assert_eq!(
            decode_string(30, &[0, b'h', 0, b'i']).as_deref(),
            Some("hi")
        );
        assert_eq!(decode_string(28, &[0, 0, 0, b'z']).as_deref(), Some("z"));
        assert_eq!(decode_string(20, &[0xe9]).as_deref(), Some("é"));
        assert_eq!(decode_string(4, b"x"), None);
        assert_eq!(der_length(5), vec![5]);
        assert_eq!(der_length(300), vec![0x82, 1, 44]);
    }
}
