"""Platform adapters: one module per chat platform behind the shared vocabulary in `channels.types`."""
