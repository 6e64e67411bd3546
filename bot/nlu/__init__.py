"""Vietnamese understanding of buyers' messages: normalisation, numbers and units, slots, intents, items."""
