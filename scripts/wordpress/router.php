<?php
/*
 * Router for `php -S 127.0.0.1:PORT -t /usr/share/wordpress router.php` (see scripts/wordpress.sh).
 *
 * Debian's WordPress: code in /usr/share/wordpress, wp-content in /var/lib/wordpress/wp-content.
 * Uploads of this instance live in its state dir ($WP_STATE_DIR/uploads). Everything that is not
 * a file goes to WordPress's index.php, which does the pretty-permalink routing itself.
 */
$state = getenv('WP_STATE_DIR') ?: '/tmp/gazette-wp';
define('GAZETTE_WP_STATE', $state);
$_SERVER['WORDPRESS_CONFIG'] = 'gazette'; // Debian's wp-config.php -> /etc/wordpress/config-gazette.php

$root = '/usr/share/wordpress';
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if (str_contains($path, '..') || str_contains($path, "\0")) {
    http_response_code(400);
    return true;
}

$types = [
    'css' => 'text/css', 'js' => 'application/javascript', 'png' => 'image/png',
    'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg', 'gif' => 'image/gif', 'svg' => 'image/svg+xml',
    'webp' => 'image/webp', 'woff' => 'font/woff', 'woff2' => 'font/woff2', 'txt' => 'text/plain',
];

function gazette_send_file(string $file, array $types): bool
{
    $ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
    header('Content-Type: ' . ($types[$ext] ?? 'application/octet-stream'));
    header('Content-Length: ' . filesize($file));
    readfile($file);
    return true;
}

if (str_starts_with($path, '/wp-content/')) {
    $rel = substr($path, strlen('/wp-content/'));
    $candidates = str_starts_with($rel, 'uploads/')
        ? ["$state/uploads/" . substr($rel, strlen('uploads/'))]
        : ["/var/lib/wordpress/wp-content/$rel", "$root/wp-content/$rel"];
    foreach ($candidates as $file) {
        if (is_file($file) && !str_ends_with($file, '.php')) {
            return gazette_send_file($file, $types);
        }
    }
    http_response_code(404);
    echo "Not found\n";
    return true;
}

$file = $root . $path;
if (is_dir($file)) {
    $file = rtrim($file, '/') . '/index.php';
}
if (is_file($file) && !str_ends_with($file, '.php')) {
    return false; // a static file under the document root: the built-in server sends it
}
if (!is_file($file)) {
    $file = "$root/index.php";
}
$script = substr($file, strlen($root));
$_SERVER['SCRIPT_FILENAME'] = $file;
$_SERVER['SCRIPT_NAME'] = $script;
$_SERVER['PHP_SELF'] = $script;
chdir(dirname($file));
require $file;
return true;
