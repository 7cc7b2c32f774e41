#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| zoneweaver_fuzz::zfs::run(data));
