from check_pop3_ipmon.plugin import main

main()
