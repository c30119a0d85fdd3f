// The bundle's `whatwg-url`: Node's own WHATWG URL (Ada; engines >= 20.19). The MongoDB driver's
// connection-string parser (mongodb-connection-string-url) subclasses whatwg-url's URL and
// URLSearchParams; with the package's copy they bring tr46's Unicode tables: ~290 KB of the 860 KB
// driver chunk that a cold login parses (docs/BENCH.md "Cold first login"). Upstream does the same:
// mongodb-js/mongodb-connection-string-url#115 (NODE-7445) replaces whatwg-url with the native URL.
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
