"""ADV5xx: multi-device training set up in a way that does not scale."""
