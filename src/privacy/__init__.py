"""Children's data (PIPL Arts. 28/31): the optional, encrypted, masked name lists some venues require."""
