"""The only code that speaks HTTP to Blue Cherry or Seko: typed errors, no settings, no database.
The flows build them with integration.shared.systems."""
