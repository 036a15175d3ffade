<?php
/*
 * Command-line helper for the throwaway WordPress of scripts/wordpress.sh (Debian has no wp-cli).
 *
 *   php scripts/wordpress/wp.php COMMAND [--key value ...]      one command, JSON on stdout
 *   php scripts/wordpress/wp.php batch < ops.json               [{"cmd": "...", ...}, ...] -> [results]
 *       in a batch, "KEY_ref": N sets KEY to the id made by the batch's op N (0-based), e.g.
 *       {"cmd": "create-comment", "post_ref": 0, "parent_ref": 1, ...}
 *
 * The instance is the one whose state dir is $WP_STATE_DIR (default /tmp/gazette-wp).
 *
 * Commands (options in brackets are optional):
 *   install --url URL [--title T]   install if needed, then (re)apply the test-friendly settings
 *   create-post --title T [--content HTML] [--excerpt E] [--categories a,b] [--tags x,y]
 *               [--author "Display Name"] [--featured-image 1] [--date 2024-01-02T03:04:05]
 *               [--status publish|draft|private|future] [--slug s] [--comment-status open|closed]
 *               [--guid-style editor|permalink]  (guid home/?p=ID as the editor gives, or the
 *               permalink as for posts inserted already published, e.g. over XML-RPC)
 *               -> {"id", "link", "guid", "comments_feed", "featured_media"}
 *   edit-post --id N [--title T] [--content HTML]
 *   delete-post --id N
 *   trash-post --id N              (to the trash, as the editor's "Move to Trash")
 *   create-comment --post N --content HTML [--author NAME] [--email E] [--url U] [--parent N]
 *               [--approved 1|0|spam] [--type comment|pingback|trackback] [--date ISO-UTC]
 *               [--raw 1]  (content is filtered like a comment form submission unless raw)
 *               -> {"id", "link"}
 *   edit-comment --id N [--content HTML] [--approved 1|0|spam] [--author NAME] [--raw 1]
 *   delete-comment --id N
 *   comment-status --id N --status approve|hold|spam|trash   as the moderation screen does
 *               (wp_trash_comment / wp_spam_comment / wp_set_comment_status)
 *   set-rest --mode on|error|off    REST API as shipped / 401 rest_disabled / gone (404, no links)
 *   permalinks --structure pretty|plain|/%custom%/
 *   reset                           delete all content, users but admin; REST on; pretty links
 *   seed [--posts 25]               posts in categories and tags by two authors, comments
 *   info                            home URL, permalink structure, REST mode, counts
 *   create-user --login L --role editor|author|contributor|subscriber [--name "Display Name"]
 *               [--email E]  -> {"id"}
 *   app-password --user ID [--name N]   a new application password -> {"password", "uuid"}
 *   set-option --name N --value V   e.g. comment_moderation 1; gazette_duplicates on (WordPress's
 *               duplicate-comment check, off by default here); gazette_app_passwords off
 *   get-comment --id N              -> {"id", "status", "author", "user_id", "parent", "post",
 *               "content"} (status: approved, hold, spam, trash; null when deleted)
 * Dates are UTC (ISO 8601 without zone, or unix seconds).
 */

const PRETTY = '/%year%/%monthnum%/%postname%/';

$state = rtrim(getenv('WP_STATE_DIR') ?: '/tmp/gazette-wp', '/');
define('GAZETTE_WP_STATE', $state);
$_SERVER['WORDPRESS_CONFIG'] = 'gazette';

function fail(string $msg, int $code = 1): void
{
    fwrite(STDERR, "wp.php: $msg\n");
    exit($code);
}

function parse_args(array $argv): array
{
    $out = [];
    for ($i = 0; $i < count($argv); $i++) {
        $a = $argv[$i];
        if (!str_starts_with($a, '--')) {
            fail("unexpected argument: $a");
        }
        $key = str_replace('-', '_', substr($a, 2));
        if (str_contains($key, '=')) {
            [$key, $val] = explode('=', $key, 2);
            $out[$key] = $val;
        } elseif ($i + 1 < count($argv) && !str_starts_with($argv[$i + 1], '--')) {
            $out[$key] = $argv[++$i];
        } else {
            $out[$key] = true;
        }
    }
    return $out;
}

$cmd = $argv[1] ?? 'help';
if ($cmd === 'help' || $cmd === '--help') {
    $src = file_get_contents(__FILE__);
    preg_match('#/\*(.*?)\*/#s', $src, $m);
    echo preg_replace('/^ \* ?/m', '', $m[1]), "\n";
    exit(0);
}
$args = parse_args(array_slice($argv, 2));

$url = $args['url'] ?? (is_file("$state/url") ? trim(file_get_contents("$state/url")) : null);
if (!$url) {
    fail("no URL: start the instance first (scripts/wordpress.sh start)");
}
$parts = parse_url($url);
$_SERVER['HTTP_HOST'] = $parts['host'] . (isset($parts['port']) ? ':' . $parts['port'] : '');
$_SERVER['SERVER_NAME'] = $parts['host'];
$_SERVER['SERVER_PORT'] = $parts['port'] ?? 80;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';

if ($cmd === 'install') {
    define('WP_INSTALLING', true);
    // upgrade.php defines it only if missing: no mail on install
    function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}
}
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';
if ($cmd !== 'install') {
    wp_set_current_user(1); // posts are written by an administrator (unfiltered_html), as in the editor
}

// ---------------------------------------------------------------------------------------------

function to_bool($v): bool
{
    return !in_array($v, [false, 0, '0', 'false', 'no', '', null], true);
}

function list_arg($v): array
{
    if ($v === null || $v === true) {
        return [];
    }
    if (is_array($v)) {
        return array_values(array_filter(array_map('trim', $v), 'strlen'));
    }
    return array_values(array_filter(array_map('trim', explode(',', (string) $v)), 'strlen'));
}

/** [local mysql datetime, gmt mysql datetime] from ISO-UTC or unix seconds. */
function dates($v): array
{
    $ts = is_numeric($v) ? (int) $v : strtotime($v . (preg_match('/(Z|[+-]\d\d:?\d\d)$/', $v) ? '' : ' UTC'));
    if ($ts === false) {
        fail("bad date: $v");
    }
    $gmt = gmdate('Y-m-d H:i:s', $ts);
    return [get_date_from_gmt($gmt), $gmt];
}

function set_permalinks(string $structure): string
{
    if ($structure === 'plain') {
        $structure = '';
    } elseif ($structure === 'pretty') {
        $structure = PRETTY;
    }
    update_option('permalink_structure', $structure);
    // Pitfall: flushing in the same run leaves the old rules object in place and breaks
    // category/tag feeds. Deleting the option makes the next request rebuild them.
    delete_option('rewrite_rules');
    return $structure;
}

function user_for(string $display_name): int
{
    $login = sanitize_user(strtolower(preg_replace('/\s+/', '.', remove_accents($display_name))), true);
    $login = $login !== '' ? substr($login, 0, 50) : 'author';
    $user = get_user_by('login', $login);
    if ($user) {
        if ($user->display_name !== $display_name) {
            wp_update_user(['ID' => $user->ID, 'display_name' => $display_name]);
        }
        return $user->ID;
    }
    $id = wp_insert_user([
        'user_login' => $login,
        'user_pass' => wp_generate_password(),
        'user_email' => $login . '@example.invalid',
        'display_name' => $display_name,
        'nickname' => $display_name,
        'role' => 'author',
    ]);
    if (is_wp_error($id)) {
        fail('user: ' . $id->get_error_message());
    }
    return $id;
}

function featured_image(int $post_id, string $title): int
{
    static $png = null;
    if ($png === null) {
        $im = imagecreatetruecolor(8, 8);
        imagefill($im, 0, 0, imagecolorallocate($im, 40, 120, 200));
        ob_start();
        imagepng($im);
        $png = ob_get_clean();
    }
    $up = wp_upload_bits('gazette-' . $post_id . '.png', null, $png);
    if (!empty($up['error'])) {
        fail('upload: ' . $up['error']);
    }
    $att = wp_insert_attachment([
        'post_mime_type' => 'image/png',
        'post_title' => $title,
        'post_status' => 'inherit',
        'guid' => $up['url'],
    ], $up['file'], $post_id);
    wp_update_attachment_metadata($att, wp_generate_attachment_metadata($att, $up['file']));
    set_post_thumbnail($post_id, $att);
    return $att;
}

function post_out(int $id): array
{
    $p = get_post($id);
    return [
        'id' => $id,
        'link' => get_permalink($id),
        'guid' => $p->guid,
        'comments_feed' => get_post_comments_feed_link($id),
        'featured_media' => (int) get_post_thumbnail_id($id),
    ];
}

function cmd_create_post(array $a): array
{
    if (!isset($a['title'])) {
        fail('create-post needs --title');
    }
    $post = [
        'post_title' => (string) $a['title'],
        'post_content' => (string) ($a['content'] ?? '<p>' . esc_html($a['title']) . '</p>'),
        'post_excerpt' => (string) ($a['excerpt'] ?? ''),
        'post_status' => $a['status'] ?? 'publish',
        'post_type' => 'post',
        'comment_status' => $a['comment_status'] ?? 'open',
        'ping_status' => 'open',
        'post_author' => isset($a['author']) ? user_for((string) $a['author']) : 1,
    ];
    if (isset($a['slug'])) {
        $post['post_name'] = $a['slug'];
    }
    if (isset($a['date'])) {
        [$post['post_date'], $post['post_date_gmt']] = dates($a['date']);
    }
    $cats = [];
    foreach (list_arg($a['categories'] ?? null) as $name) {
        $t = term_exists($name, 'category');
        if (!$t) {
            $t = wp_insert_term($name, 'category');
            if (is_wp_error($t)) {
                fail('category: ' . $t->get_error_message());
            }
        }
        $cats[] = (int) $t['term_id'];
    }
    if ($cats) {
        $post['post_category'] = $cats;
    }
    $tags = list_arg($a['tags'] ?? null);
    if ($tags) {
        $post['tags_input'] = $tags;
    }
    // wp_insert_post expects slashed data (it unslashes): keep backslashes in titles and content
    $id = wp_insert_post(wp_slash($post), true);
    if (is_wp_error($id)) {
        fail('create-post: ' . $id->get_error_message());
    }
    if (($a['guid_style'] ?? 'editor') === 'editor') {
        // The editor first saves an auto-draft, whose guid is home/?p=ID, and keeps it; a post
        // inserted already published gets its permalink as guid. Feeds show the guid.
        global $wpdb;
        $wpdb->update($wpdb->posts, ['guid' => home_url('/?p=' . $id)], ['ID' => $id]);
        clean_post_cache($id);
    }
    if (to_bool($a['featured_image'] ?? false)) {
        featured_image($id, (string) $a['title']);
    }
    return post_out($id);
}

function cmd_edit_post(array $a): array
{
    $post = ['ID' => (int) $a['id']];
    if (isset($a['title'])) {
        $post['post_title'] = (string) $a['title'];
    }
    if (isset($a['content'])) {
        $post['post_content'] = (string) $a['content'];
    }
    $r = wp_update_post(wp_slash($post), true);
    if (is_wp_error($r)) {
        fail('edit-post: ' . $r->get_error_message());
    }
    return post_out((int) $a['id']);
}

function cmd_delete_post(array $a): array
{
    return ['deleted' => (bool) wp_delete_post((int) $a['id'], true)];
}

function cmd_trash_post(array $a): array
{
    return ['trashed' => (bool) wp_trash_post((int) $a['id'])];
}

function approved_value($v): string
{
    if ($v === 'spam' || $v === 'trash') {
        return $v;
    }
    return to_bool($v) ? '1' : '0';
}

function cmd_create_comment(array $a): array
{
    if (!isset($a['post'])) {
        fail('create-comment needs --post');
    }
    $type = $a['type'] ?? 'comment';
    $c = [
        'comment_post_ID' => (int) $a['post'],
        // what a comment form submission gets: the comment subset of HTML (unless --raw)
        'comment_content' => to_bool($a['raw'] ?? false)
            ? (string) ($a['content'] ?? 'A comment.')
            : wp_kses((string) ($a['content'] ?? 'A comment.'), 'pre_comment_content'),
        'comment_author' => (string) ($a['author'] ?? 'Reader'),
        'comment_author_email' => (string) ($a['email'] ?? ($type === 'comment' ? 'reader@example.invalid' : '')),
        'comment_author_url' => (string) ($a['url'] ?? ''),
        'comment_author_IP' => '127.0.0.1',
        'comment_agent' => 'gazette-tests',
        'comment_parent' => (int) ($a['parent'] ?? 0),
        'comment_approved' => approved_value($a['approved'] ?? 1),
        'comment_type' => $type,
    ];
    if (isset($a['date'])) {
        [$c['comment_date'], $c['comment_date_gmt']] = dates($a['date']);
    }
    $id = wp_insert_comment(wp_slash($c));
    if (!$id) {
        fail('create-comment failed');
    }
    return ['id' => $id, 'link' => get_comment_link($id)];
}

function cmd_edit_comment(array $a): array
{
    $c = ['comment_ID' => (int) $a['id']];
    if (isset($a['content'])) {
        $c['comment_content'] = to_bool($a['raw'] ?? false)
            ? (string) $a['content'] : wp_kses((string) $a['content'], 'pre_comment_content');
    }
    if (isset($a['author'])) {
        $c['comment_author'] = (string) $a['author'];
    }
    if (isset($a['approved'])) {
        $c['comment_approved'] = approved_value($a['approved']);
    }
    $r = wp_update_comment(wp_slash($c), true);
    if (is_wp_error($r)) {
        fail('edit-comment: ' . $r->get_error_message());
    }
    return ['id' => (int) $a['id'], 'updated' => (bool) $r];
}

function cmd_delete_comment(array $a): array
{
    return ['deleted' => (bool) wp_delete_comment((int) $a['id'], true)];
}

function cmd_comment_status(array $a): array
{
    $status = (string) ($a['status'] ?? '');
    if (!in_array($status, ['approve', 'hold', 'spam', 'trash'], true)) {
        fail('comment-status: --status approve|hold|spam|trash');
    }
    $id = (int) $a['id'];
    $r = match ($status) {
        'trash' => wp_trash_comment($id),
        'spam' => wp_spam_comment($id),
        default => wp_set_comment_status($id, $status, true),
    };
    if (is_wp_error($r) || !$r) {
        fail('comment-status: ' . (is_wp_error($r) ? $r->get_error_message() : 'refused'));
    }
    return ['id' => $id, 'status' => wp_get_comment_status($id)];
}

function cmd_set_rest(array $a): array
{
    $mode = $a['mode'] ?? 'on';
    if (!in_array($mode, ['on', 'error', 'off'], true)) {
        fail('set-rest --mode on|error|off');
    }
    update_option('gazette_rest', $mode);
    return ['rest' => $mode];
}

function cmd_set_websub_hub(array $a): array
{
    $hub = (string) ($a['hub'] ?? '');
    if ($hub === '') {
        delete_option('gazette_websub_hub');
    } else {
        update_option('gazette_websub_hub', $hub);
    }
    return ['hub' => $hub];
}

function cmd_permalinks(array $a): array
{
    return ['permalink_structure' => set_permalinks((string) ($a['structure'] ?? 'pretty'))];
}

function cmd_install(array $a): array
{
    global $wpdb;
    $url = rtrim($a['url'], '/');
    $installed = is_blog_installed();
    if (!$installed) {
        $wpdb->suppress_errors(true);
        $r = wp_install($a['title'] ?? 'Gazette Test Blog', 'admin', 'admin@example.invalid', true, '', 'admin');
        $wpdb->suppress_errors(false);
        if (empty($r['user_id'])) {
            fail('wp_install failed');
        }
    }
    $options = [
        'home' => $url,
        'siteurl' => $url,
        'blogdescription' => 'A WordPress for Gazette tests',
        'timezone_string' => 'UTC',
        'gmt_offset' => 0,
        // comments: open, no moderation, no hold for links, no closing of old posts
        'default_comment_status' => 'open',
        'default_ping_status' => 'open',
        'comment_moderation' => 0,
        'comment_previously_approved' => 0,
        'comment_whitelist' => 0,
        'comment_max_links' => 0,
        'moderation_keys' => '',
        'disallowed_keys' => '',
        'comment_registration' => 0,
        'close_comments_for_old_posts' => 0,
        'thread_comments' => 1,
        'default_pingback_flag' => 0,
        'upload_path' => GAZETTE_WP_STATE . '/uploads',
        'upload_url_path' => $url . '/wp-content/uploads',
        'uploads_use_yearmonth_folders' => 0,
    ];
    foreach ($options as $k => $v) {
        update_option($k, $v);
    }
    if (!$installed) {
        set_permalinks(PRETTY);
        update_option('gazette_rest', 'on');
    }
    return ['installed_now' => !$installed, 'url' => $url];
}

function cmd_reset(array $a): array
{
    global $wpdb;
    foreach (['posts', 'postmeta', 'comments', 'commentmeta', 'term_relationships'] as $t) {
        $wpdb->query('DELETE FROM ' . $wpdb->$t);
    }
    $wpdb->query("DELETE FROM {$wpdb->term_taxonomy} WHERE term_id <> 1");
    $wpdb->query("DELETE FROM {$wpdb->terms} WHERE term_id <> 1");
    $wpdb->query("DELETE FROM {$wpdb->termmeta}");
    $wpdb->query("UPDATE {$wpdb->term_taxonomy} SET count = 0");
    $wpdb->query("DELETE FROM {$wpdb->usermeta} WHERE user_id <> 1");
    $wpdb->query("DELETE FROM {$wpdb->users} WHERE ID <> 1");
    wp_cache_flush();
    update_option('gazette_rest', 'on');
    update_option('comment_moderation', 0);
    delete_option('gazette_duplicates');
    delete_option('gazette_app_passwords');
    delete_option('gazette_websub_hub');
    set_permalinks(PRETTY);
    return ['reset' => true];
}

function cmd_seed(array $a): array
{
    $n = (int) ($a['posts'] ?? 25);
    $authors = ['Ada Lovelace', 'Émile Zola'];
    $cats = [['News', 'Science'], ['Culture'], ['News']];
    $base = time() - $n * 86400;
    $ids = [];
    for ($i = 1; $i <= $n; $i++) {
        $ids[] = cmd_create_post([
            'title' => "Seeded post $i: caf\u{e9} & <friends>",
            'content' => "<p>Body of seeded post <strong>$i</strong>.</p>\n<p>Second paragraph with a <a href=\"https://example.org/\">link</a>.</p>",
            'excerpt' => '',
            'categories' => $cats[$i % 3],
            'tags' => ["tag-$i", 'seeded'],
            'author' => $authors[$i % 2],
            'featured_image' => $i % 5 === 0,
            'date' => $base + $i * 86400,
        ])['id'];
    }
    $post = end($ids);
    $t = time() - 3600;
    $comments = [];
    for ($i = 1; $i <= 12; $i++) {
        $parent = ($i % 3 === 0) ? $comments[$i - 2] : 0;
        $comments[] = cmd_create_comment([
            'post' => $post, 'author' => "Reader $i", 'content' => "<p>Comment $i</p>",
            'parent' => $parent, 'date' => $t + $i * 60,
        ])['id'];
    }
    cmd_create_comment(['post' => $post, 'author' => 'Held Back', 'content' => 'Awaiting moderation',
        'approved' => 0, 'date' => $t + 13 * 60]);
    cmd_create_comment(['post' => $post, 'type' => 'pingback', 'author' => 'Another Blog',
        'url' => 'http://127.0.0.1/another/', 'content' => '[&#8230;] a link to this post [&#8230;]',
        'date' => $t + 14 * 60]);
    return ['posts' => $ids, 'comments_post' => $post, 'comments' => $comments];
}

function cmd_info(array $a): array
{
    return [
        'home' => home_url('/'),
        'permalink_structure' => get_option('permalink_structure'),
        'rest' => get_option('gazette_rest', 'on'),
        'posts' => (int) wp_count_posts()->publish,
        'comments' => (int) wp_count_comments()->approved,
        'version' => get_bloginfo('version'),
    ];
}

function cmd_create_user(array $a): array
{
    $login = (string) $a['login'];
    $id = wp_insert_user([
        'user_login' => $login,
        'user_pass' => wp_generate_password(24),
        'user_email' => $a['email'] ?? "$login@example.invalid",
        'display_name' => $a['name'] ?? $login,
        'role' => $a['role'] ?? 'author',
    ]);
    if (is_wp_error($id)) {
        fail('create-user: ' . $id->get_error_message());
    }
    return ['id' => (int) $id];
}

function cmd_app_password(array $a): array
{
    [$password, $item] = WP_Application_Passwords::create_new_application_password(
        (int) $a['user'],
        ['name' => $a['name'] ?? 'Gazette']
    ) + [null, null];
    if (is_wp_error($password)) {
        fail('app-password: ' . $password->get_error_message());
    }
    return ['password' => WP_Application_Passwords::chunk_password($password), 'uuid' => $item['uuid']];
}

function cmd_set_option(array $a): array
{
    update_option((string) $a['name'], $a['value']);
    return ['name' => $a['name'], 'value' => get_option((string) $a['name'])];
}

function cmd_get_comment(array $a): array
{
    $c = get_comment((int) $a['id']);
    if (!$c) {
        return ['id' => (int) $a['id'], 'status' => null];
    }
    return [
        'id' => (int) $c->comment_ID,
        'status' => wp_get_comment_status($c),
        'author' => $c->comment_author,
        'user_id' => (int) $c->user_id,
        'parent' => (int) $c->comment_parent,
        'post' => (int) $c->comment_post_ID,
        'content' => $c->comment_content,
    ];
}

function run(string $cmd, array $a): array
{
    $fn = 'cmd_' . str_replace('-', '_', $cmd);
    if (!function_exists($fn) || $cmd === 'batch') {
        fail("unknown command: $cmd (try help)", 2);
    }
    return $fn($a);
}

if ($cmd === 'batch') {
    $ops = json_decode(stream_get_contents(STDIN), true);
    if (!is_array($ops)) {
        fail('batch: stdin is not a JSON array');
    }
    $out = [];
    foreach ($ops as $op) {
        $c = $op['cmd'] ?? '';
        unset($op['cmd']);
        $op = array_combine(array_map(fn($k) => str_replace('-', '_', $k), array_keys($op)), $op);
        foreach ($op as $k => $v) { // "parent_ref": 3 -> "parent": id made by op 3 of this batch
            if (str_ends_with($k, '_ref')) {
                if (!isset($out[$v]['id'])) {
                    fail("batch: $k points at op $v, which made no id");
                }
                $op[substr($k, 0, -4)] = $out[$v]['id'];
                unset($op[$k]);
            }
        }
        $out[] = run($c, $op);
    }
    echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
} else {
    echo json_encode(run($cmd, $args), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
}
