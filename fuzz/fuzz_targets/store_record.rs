//! Arbitrary bytes as a stored token record: `Record::decode` with and without a
//! `SealKey` never panics, and a record that decodes re-encodes (unsealed and sealed)
//! to bytes that decode to the same fields.
//!
//! Input layout: byte 0 picks the version (its value) and the record name (bit 7: the
//! name of a sealed record); the rest is the payload.

#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use smartling_auth_core::BaseUrl;
use smartling_auth_core::store::{Record, RecordName, SealKey};

fn same(a: &Record, b: &Record) -> bool {
    a.issued_at == b.issued_at
        && a.pair.access_token.same_secret(&b.pair.access_token)
        && a.pair.refresh_token.same_secret(&b.pair.refresh_token)
        && a.pair.token_type.as_str() == b.pair.token_type.as_str()
        && a.pair.expires_in == b.pair.expires_in
        && a.pair.refresh_expires_in == b.pair.refresh_expires_in
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, payload)) = data.split_first() else {
        return;
    };
    let version = u64::from(head & 0x7f);
    let key = SealKey::from_bytes([0x5a; 32]);
    let name = RecordName::new(
        &BaseUrl::default(),
        "user",
        (head & 0x80 != 0).then_some(&key),
    );
    let sealed = Record::decode(&name, version, payload, Some(&key));
    let plain = Record::decode(&name, version, payload, None);
    // Arbitrary bytes cannot carry a valid seal, and a payload is sealed or it is not.
    assert!(
        sealed.is_err() || plain.is_err(),
        "one payload decoded both sealed and unsealed"
    );
    for record in [sealed, plain].into_iter().flatten() {
        let again = record.encode(&name, version, None);
        let back =
            Record::decode(&name, version, &again, None).expect("a re-encoded record decodes");
        assert!(
            same(&record, &back),
            "the unsealed round trip changed a field"
        );
        let closed = record.encode(&name, version, Some(&key));
        let back =
            Record::decode(&name, version, &closed, Some(&key)).expect("a sealed record opens");
        assert!(
            same(&record, &back),
            "the sealed round trip changed a field"
        );
        // A seal binds the version: a replay under another version does not open.
        assert!(Record::decode(&name, version + 1, &closed, Some(&key)).is_err());
    }
});
