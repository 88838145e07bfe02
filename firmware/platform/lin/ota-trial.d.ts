// ota-trial.js beside it: the lin model of the ESP32's rollback binding, with its interface.
export * from '../esp32/ota-trial/ota-trial';
