"""End-to-end tests: the whole service against local fakes of each platform."""
