-- The last configuration read of each zone (`zonecfg export`'s text) with the signature of its
-- /etc/zones/<zone>.xml at the time, so that after a restart a zone is exported again only if
-- its file changed (zones/host.rs). A cache of host facts: rows may be dropped at any time.
CREATE TABLE zone_configs (
    name    TEXT PRIMARY KEY,
    sig     TEXT,
    export  TEXT NOT NULL
);
