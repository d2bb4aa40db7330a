"""What the check, the alerting and the recovery side share: one rule each for
private files and for state files, so that the two handlers fail the same way."""
