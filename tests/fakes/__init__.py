"""Small fake servers of each chat platform, speaking their real wire formats, for end-to-end tests."""
