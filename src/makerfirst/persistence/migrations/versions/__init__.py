"""One module per revision, applied in order: 0001 is the schema of the first release."""
