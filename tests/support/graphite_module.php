<?php
// Icinga Web 2's graphite module reads a template file with its own loader
// (Templates::loadIni, which refuses what the module cannot use), as the web
// interface does; the curves come out as JSON, their metric filters resolved
// for one service (the module's $service_name_template$), each with its
// Graphite function. Run by tests/check/test_graphite_paths.py:
//     php graphite_module.php TEMPLATE.ini SERVICE_NAME_TEMPLATE
// The Icinga Web 2 configuration directory is ICINGAWEB_CONFIGDIR (a temp dir).

require_once '/usr/share/php/Icinga/Application/Cli.php';

use Icinga\Application\Cli;
use Icinga\Module\Graphite\Graphing\Templates;

$app = Cli::start('/usr/share/icingaweb2');
$app->getModuleManager()->loadModule('graphite');
try {
    $templates = (new Templates())->loadIni($argv[1]);
} catch (Exception $e) {
    fwrite(STDERR, get_class($e) . ': ' . $e->getMessage() . "\n");
    exit(1);
}
$out = [];
foreach ($templates->getAllTemplates() as $command => $byName) {
    foreach ($byName as $name => $template) {
        foreach ($template->getCurves() as $curve => $pair) {
            $out[$command][$name]['curves'][$curve] = [
                $pair[0]->resolve(['service_name_template' => $argv[2]]),
                (string) $pair[1],
            ];
        }
        foreach ($template->getUrlParams() as $key => $value) {
            $out[$command][$name]['urlparams'][$key] = (string) $value;
        }
    }
}
echo json_encode($out, JSON_PRETTY_PRINT), "\n";
