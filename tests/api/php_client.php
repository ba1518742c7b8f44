<?php
// A client written the way the old page (`website/index.php` of the public student-list project)
// read the API: PHP's own HTTP stream (file_get_contents + stream_context_create) with an
// `Authorization: Basic` header, json_decode, then $list["student_ages"], one line a student.
// Run by scripts/stages/api.sh against a live back: php tests/api/php_client.php
// Environment: API_URL (the get_student_ages URL), USERNAME, PASSWORD.
$username = getenv('USERNAME');
$password = getenv('PASSWORD');
$context = stream_context_create(array(
    "http" => array(
        "header" => "Authorization: Basic " . base64_encode("$username:$password"),
    )));
$url = getenv('API_URL');
$body = file_get_contents($url, false, $context);
if ($body === false) {
    fwrite(STDERR, "php client: cannot read $url\n");
    exit(1);
}
$list = json_decode($body, true);
if (!is_array($list) || !isset($list["student_ages"]) || !is_array($list["student_ages"])) {
    fwrite(STDERR, "php client: no student_ages object in: $body\n");
    exit(1);
}
foreach ($list["student_ages"] as $key => $value) {
    echo "- $key are $value years old\n";
}
