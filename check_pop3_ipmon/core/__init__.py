"""Small pieces shared by the check, the alerting and the recovery."""
