from gatectl.main import main

raise SystemExit(main())
