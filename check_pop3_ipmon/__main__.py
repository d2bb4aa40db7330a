from check_pop3_ipmon.plugin import entry

entry()
