from rsteller_db.cli import main

main()
