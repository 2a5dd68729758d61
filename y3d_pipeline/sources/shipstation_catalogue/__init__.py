"""ShipStation catalogue and stock: v1 warehouses and products, V2 inventory warehouses, locations and levels."""
