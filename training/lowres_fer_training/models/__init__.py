"""The networks: efc (seed 000), seeds (the seed options of issue 15 and the wide
teacher), rrn (the resolution recognition network); arch.build(name) makes one."""
