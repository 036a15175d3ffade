<?php
/*
 * Plugin Name: Gazette test switches
 * Description: Loaded only by the throwaway WordPress of scripts/wordpress.sh. Makes every
 * test client (all on 127.0.0.1) welcome, and lets tests take the REST API away.
 *
 * Option gazette_rest:
 *   "on"    (default) the REST API as WordPress ships it;
 *   "error" what "disable REST API" plugins do: discovery links stay, every anonymous
 *           request gets 401 {"code":"rest_disabled"} (rest_authentication_errors);
 *   "off"   no discovery links, /wp-json/ and ?rest_route= answer 404.
 */

// No flood check (15 s between comments from one IP) and no duplicate check (unless the
// option gazette_duplicates is "on": WordPress's own check, as shipped).
add_filter('wp_is_comment_flood', '__return_false', 99);
if (get_option('gazette_duplicates', 'off') !== 'on') {
    add_filter('duplicate_comment_id', '__return_zero', 99);
}
// Option gazette_app_passwords "off": application passwords unavailable (as a plugin does).
if (get_option('gazette_app_passwords', 'on') === 'off') {
    add_filter('wp_is_application_passwords_available', '__return_false', 99);
}

$gazette_rest = get_option('gazette_rest', 'on');

if ($gazette_rest === 'error') {
    add_filter('rest_authentication_errors', function ($result) {
        return new WP_Error('rest_disabled', 'The REST API is disabled on this site.', ['status' => 401]);
    }, 99);
} elseif ($gazette_rest === 'off') {
    remove_action('template_redirect', 'rest_output_link_header', 11);
    remove_action('wp_head', 'rest_output_link_wp_head', 10);
    remove_action('xmlrpc_rsd_apis', 'rest_output_rsd');
    add_action('parse_request', function ($wp) {
        if (isset($wp->query_vars['rest_route'])) {
            status_header(404);
            header('Content-Type: text/html; charset=UTF-8');
            echo "<!doctype html><title>Not found</title><h1>Not found</h1>\n";
            exit;
        }
    }, 0);
}

/*
 * Option gazette_websub_hub (a hub's URL; empty: none): what WebSub plugins do. The feeds
 * advertise the hub, and publishing a post tells it (hub.mode=publish) that the feed changed.
 */
$gazette_hub = get_option('gazette_websub_hub', '');
if ($gazette_hub !== '') {
    add_action('rss2_head', function () use ($gazette_hub) {
        echo '<atom:link rel="hub" href="' . esc_url($gazette_hub) . '" />' . "\n";
    });
    add_action('atom_head', function () use ($gazette_hub) {
        echo '<link rel="hub" href="' . esc_url($gazette_hub) . '" />' . "\n";
    });
    // the topic: WordPress's rel="self" drops a non-standard port (this site's 127.0.0.1:PORT)
    add_filter('self_link', function ($link) {
        $home = wp_parse_url(home_url());
        $port = isset($home['port']) ? ':' . $home['port'] : '';
        return $home['scheme'] . '://' . $home['host'] . $port . wp_unslash($_SERVER['REQUEST_URI']);
    });
    // after the post, its terms and meta are all saved
    add_action('wp_after_insert_post', function ($id, $post, $update, $before) use ($gazette_hub) {
        $was = $before ? $before->post_status : 'new';
        if ($post->post_type !== 'post' || $post->post_status !== 'publish' || $was === 'publish') {
            return;
        }
        wp_remote_post($gazette_hub, [
            'body' => ['hub.mode' => 'publish', 'hub.url' => get_feed_link('rss2')],
            'timeout' => 5,
        ]);
    }, 10, 4);
}
