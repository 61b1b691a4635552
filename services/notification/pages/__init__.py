"""HTML pages reporters open (the rating link): Chinese, mobile, no JavaScript."""
