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
