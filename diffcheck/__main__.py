from diffcheck.entry import main

main()
