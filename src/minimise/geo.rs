//! GeoIP lookups.
