"""The HTX Connect service: app factory, settings, CLI, conversation engine and Vietnamese understanding."""
