#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zoneweaver_fuzz::parsable::run(data));
