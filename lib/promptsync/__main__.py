from promptsync.cli import main

raise SystemExit(main())
