"""Example plugin task: balance PyBullet's cart-pole and bring the cart to a target."""
