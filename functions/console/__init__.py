"""The web console's static files (index.html, app.js, app.css, icon.svg), served by api/console.py.

Package data: it ships in the Lambda bundle and in the wheel. The page holds no data; every
datum it shows comes from the token-protected JSON API, called from the browser.
"""
