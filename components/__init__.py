"""ComponentResources of the Passport Photo backend, plus the typed stack config they consume."""
