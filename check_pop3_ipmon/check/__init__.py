"""The check: one POP3 test (session, no nagiosplugin), its TLS and parsing,
the nagiosplugin glue and its command line. Imports nothing: a check pays for
every module it loads."""
