"""The xdp program type: several programs per interface through a dispatcher."""
