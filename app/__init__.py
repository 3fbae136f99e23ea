"""attain: targets, district submissions and attainment for Qingdao's Ten Action Plans."""
