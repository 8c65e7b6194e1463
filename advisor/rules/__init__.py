"""One module per rule (or rule family). Every `Rule` subclass defined here is registered by import."""
